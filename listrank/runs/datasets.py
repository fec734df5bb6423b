"""Standard first-stage runs and qrels in one command: ``listrank datasets get dl19``.

First-stage candidates are the ones rank_llm publishes: its retrieve_results JSONL files
(rank_llm's request form, which listrank reads as it is) in the Hugging Face dataset
``castorini/rank_llm_data``, fetched with ``huggingface_hub`` into the usual hub cache
(``HF_HUB_CACHE`` / ``HF_HOME``). Qrels are the official TREC / BEIR judgments from
anserini-tools at a pinned commit, cached under the listrank cache folder. Every file is
checked against the size and MD5 published with it (rank_llm's own for the runs) before it is
used; a cached file is used offline (``HF_HUB_OFFLINE=1``) without any network access.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from listrank.errors import InputError

HUB_REPO = "castorini/rank_llm_data"
QRELS_BASE = (
    "https://raw.githubusercontent.com/castorini/anserini-tools/"
    "5b819c1a45c8a0a3ec9426f476694f44a29dfaf3/qrels/"
)
RETRIEVERS = {"bm25": "BM25", "splade": "SPLADE_P_P_ENSEMBLE_DISTIL", "bm25-rm3": "BM25_RM3"}
"""listrank's short name -> rank_llm's retrieval-method folder."""


@dataclass(frozen=True)
class RemoteFile:
    location: str
    """A path in the hub dataset (runs) or a URL (qrels)."""
    size: int
    md5: str


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    runs: dict[str, RemoteFile]
    """retriever (bm25, splade, …) -> its top-100 run."""
    qrels: RemoteFile | None


def _run(retriever: str, name: str, size: int, md5: str) -> RemoteFile:
    folder = RETRIEVERS[retriever]
    return RemoteFile(f"retrieve_results/{folder}/retrieve_results_{name}_top100.jsonl", size, md5)


def _qrels(name: str, size: int, md5: str) -> RemoteFile:
    return RemoteFile(QRELS_BASE + name, size, md5)


# sizes and MD5s as rank_llm publishes them (rank_llm/retrieve/repo_info.py); qrels' from the
# pinned anserini-tools blobs
CATALOGUE: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "dl19",
            "TREC DL 2019 passage (MS MARCO v1), 43 judged queries",
            {
                "bm25": _run("bm25", "dl19", 2000369, "518ab9f821fb74d862589d1d141c208e"),
                "splade": _run("splade", "dl19", 1844101, "894d37a5701bde517f75e117b2d5cad4"),
                "bm25-rm3": _run("bm25-rm3", "dl19", 2054706, "2f8ff225e60baa2c2d47162ae4d371c1"),
            },
            RemoteFile(
                QRELS_BASE + "qrels.dl19-passage.txt", 187092, "2f4be390198da108f6845c822e5ada14"
            ),
        ),
        Dataset(
            "dl20",
            "TREC DL 2020 passage (MS MARCO v1), 54 judged queries",
            {
                "bm25": _run("bm25", "dl20", 2528494, "3b6397f50fd78229e8d733243745a6d4"),
                "splade": _run("splade", "dl20", 2285466, "241c63eba8f4ce8b7795fcaaf565bb03"),
                "bm25-rm3": _run("bm25-rm3", "dl20", 2548091, "b8414ab263a05df678d375281c2bc000"),
            },
            RemoteFile(
                QRELS_BASE + "qrels.dl20-passage.txt", 218617, "0355ccee7509ac0463e8278186cdd8d1"
            ),
        ),
        Dataset(
            "dl21",
            "TREC DL 2021 passage (MS MARCO v2), 53 judged queries",
            {
                "bm25": _run("bm25", "dl21", 2140373, "6ca5e405c55fc2280d66eb0afc7416f5"),
                "splade": _run("splade", "dl21", 2082006, "5b90d5460014d94d977921202c42606a"),
                "bm25-rm3": _run("bm25-rm3", "dl21", 2157834, "1a0841bb0f82b820bfb2de700a9e89b5"),
            },
            RemoteFile(
                QRELS_BASE + "qrels.dl21-passage.txt", 433887, "c5b76ec95b589732edc9040302e22a2b"
            ),
        ),
        Dataset(
            "dl22",
            "TREC DL 2022 passage (MS MARCO v2); no qrels here (not pinned)",
            {
                "bm25": _run("bm25", "dl22", 3021942, "08322ee30bf084d1309f5c5a515f2f18"),
                "splade": _run("splade", "dl22", 2958535, "9082402af60b5e9208556853bc7842b0"),
                "bm25-rm3": _run("bm25-rm3", "dl22", 3060472, "1dd01bb2bb44b41d6af77c2879492be7"),
            },
            None,
        ),
        Dataset(
            "covid",
            "BEIR TREC-COVID (v1.0.0 test qrels)",
            {
                "bm25": _run("bm25", "covid", 8779956, "7dd70b911afc40647c37580e2f17a27f"),
                "splade": _run("splade", "covid", 7648893, "74a41136fab99a77e8919ac29a6cc659"),
                "bm25-rm3": _run("bm25-rm3", "covid", 9020100, "f80e8341da7de1d0cce166ed6e2fa84e"),
            },
            _qrels(
                "qrels.beir-v1.0.0-trec-covid.test.txt", 1047107, "1e130db6fb3f9c217a17b024cb5381be"
            ),
        ),
    )
}


def dataset(name: str) -> Dataset:
    from listrank.errors import did_you_mean

    if name not in CATALOGUE:
        raise InputError(
            f"unknown dataset {name!r}{did_you_mean(name, list(CATALOGUE))}; "
            f"`listrank datasets list` shows {', '.join(CATALOGUE)}"
        )
    return CATALOGUE[name]


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false")


def _check(path: Path, expected: RemoteFile) -> Path:
    size = path.stat().st_size
    if size != expected.size:
        raise InputError(
            f"{path}: {size} bytes, but {expected.location} is {expected.size}; remove the file "
            "and fetch it again"
        )
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != expected.md5:
        raise InputError(
            f"{path}: MD5 {h.hexdigest()}, but {expected.location} is {expected.md5}; remove "
            "the file and fetch it again"
        )
    return path


def run_file(name: str, retriever: str = "bm25") -> Path:
    """The dataset's first-stage run (top 100, rank_llm JSONL), from the hub cache or the hub."""
    ds = dataset(name)
    if retriever not in ds.runs:
        raise InputError(
            f"dataset {name} has runs for {', '.join(ds.runs)}, not {retriever!r} (--retriever)"
        )
    remote = ds.runs[retriever]
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        path = hf_hub_download(
            HUB_REPO, remote.location, repo_type="dataset", local_files_only=_offline()
        )
    except LocalEntryNotFoundError as exc:
        how = "offline (HF_HUB_OFFLINE is set)" if _offline() else "the hub could not be reached"
        raise InputError(
            f"{HUB_REPO}/{remote.location} is not in the hub cache and {how}: run "
            f"`listrank datasets get {name}` once with network access"
        ) from exc
    except OSError as exc:  # HTTP errors, a full disk
        raise InputError(f"cannot fetch {HUB_REPO}/{remote.location}: {exc}") from exc
    return _check(Path(path), remote)


def _cache_root() -> Path:
    root = os.environ.get("LISTRANK_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "listrank") / "datasets"


def qrels_file(name: str) -> Path:
    """The dataset's qrels, from the listrank cache or fetched once (pinned URL)."""
    ds = dataset(name)
    if ds.qrels is None:
        raise InputError(f"dataset {name} has no qrels here; pass --qrels FILE")
    remote = ds.qrels
    target = _cache_root() / Path(remote.location).name
    if target.exists():
        return _check(target, remote)
    if _offline():
        raise InputError(
            f"{target} is not cached and HF_HUB_OFFLINE is set: run `listrank datasets get "
            f"{name}` once with network access"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(remote.location, timeout=60) as r:
            while chunk := r.read(1 << 20):
                out.write(chunk)
        _check(Path(tmp), remote)
        os.replace(tmp, target)
    except OSError as exc:
        raise InputError(f"cannot fetch {remote.location}: {exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return target
