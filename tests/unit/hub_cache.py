"""A Hugging Face hub cache laid out as huggingface_hub lays it out (refs/main -> a snapshot
whose files link to content-addressed blobs), so listrank's real download code runs offline."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from listrank.runs import datasets

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def put_hub_file(cache: Path, repo: str, filename: str, data: bytes) -> None:
    root = cache / f"datasets--{repo.replace('/', '--')}"
    blob = root / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    (root / "refs").mkdir(exist_ok=True)
    (root / "refs" / "main").write_text(COMMIT)
    link = root / "snapshots" / COMMIT / filename
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(Path("../" * (len(Path(filename).parts) + 1)) / "blobs" / blob.name)


def offline_dl19(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path, queries: int = 43
) -> bytes:
    """DL19's BM25 run (from the test collections, first ``queries`` queries) in a hub cache
    and its official qrels in the listrank cache; the catalogue's size and MD5 for the run are
    those of this file (the published file itself is not here), the qrels' are the real ones."""
    import huggingface_hub.constants

    dl19 = data_dir / "trec-dl19-passage"
    lines = (dl19 / "dl19.bm25.top100.normalized.jsonl").read_bytes().splitlines(keepends=True)
    run = b"".join(lines[:queries])
    hub = tmp_path / "hub"
    real = datasets.CATALOGUE["dl19"]
    location = real.runs["bm25"].location
    put_hub_file(hub, datasets.HUB_REPO, location, run)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    runs = {
        **real.runs,
        "bm25": datasets.RemoteFile(location, len(run), hashlib.md5(run).hexdigest()),
    }
    monkeypatch.setitem(
        datasets.CATALOGUE, "dl19", datasets.Dataset(real.name, real.description, runs, real.qrels)
    )
    cache = tmp_path / "listrank-cache"
    (cache / "datasets").mkdir(parents=True)
    (cache / "datasets" / "qrels.dl19-passage.txt").write_bytes(
        (dl19 / "qrels.dl19-passage.txt").read_bytes()
    )
    monkeypatch.setenv("LISTRANK_CACHE_DIR", str(cache))
    return run
