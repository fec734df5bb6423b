"""Where the shared test collections live: ``$LISTRANK_SHARED_DATA``, else the first
``shared/data`` found beside the repository or beside one of its parent folders (a checkout
and a worktree of it both find it)."""

from __future__ import annotations

import os
from pathlib import Path


def shared_data() -> Path:
    given = os.environ.get("LISTRANK_SHARED_DATA")
    if given:
        return Path(given)
    repo = Path(__file__).resolve().parents[1]
    for folder in repo.parents:
        candidate = folder / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return repo.parent / "shared" / "data"
