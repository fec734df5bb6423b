"""Where the shared test collections live: ``$LISTRANK_SHARED_DATA``, else the first
``shared/data`` found beside the repository or beside one of its parent folders (a checkout
and a worktree of it both find it)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


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


def first_queries(path: Path, queries: int, depth: int) -> list[tuple[Any, list[Any]]]:
    """The first ``queries`` (Query, candidates[:depth]) of a rank_llm JSONL run."""
    from listrank.types import Candidate, Query  # light, but keeps this module import-free

    out = []
    with path.open(encoding="utf-8") as fh:
        for _, line in zip(range(queries), fh, strict=False):
            row = json.loads(line)
            cands = [
                Candidate(docid=str(c["docid"]), text=c["text"], title=c.get("title"))
                for c in row["candidates"][:depth]
            ]
            out.append((Query(row["query"], qid=str(row["qid"])), cands))
    return out
