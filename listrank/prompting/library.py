"""Where the data folders shipped in the wheel (``prompts/``, ``presets/``) are found."""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def shipped_dir(folder: str) -> Path:
    """``listrank/<folder>`` in an installed wheel, else ``<folder>`` at the repository root
    (an editable or source checkout keeps the data beside the package)."""
    packaged = importlib.resources.files("listrank").joinpath(folder)
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / folder
