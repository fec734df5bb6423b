"""`listrank datasets` and --dataset, offline against a pre-populated hub cache: the real
huggingface_hub lookup runs, only the network is absent; files are checked by size and MD5."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from listrank.cli import main
from listrank.errors import InputError
from listrank.runs import datasets
from tests.unit.hub_cache import offline_dl19


def test_the_catalogue_names_hub_files_and_pinned_qrels() -> None:
    for d in datasets.CATALOGUE.values():
        for retriever, remote in d.runs.items():
            folder = datasets.RETRIEVERS[retriever]
            assert (
                remote.location
                == f"retrieve_results/{folder}/retrieve_results_{d.name}_top100.jsonl"
            )
            assert remote.size > 100_000 and len(remote.md5) == 32
        if d.qrels is not None:
            assert d.qrels.location.startswith(datasets.QRELS_BASE)


def test_get_finds_the_cached_run_and_qrels_offline(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = offline_dl19(tmp_path, monkeypatch, data_dir)
    out = tmp_path / "dl19-3.jsonl"
    assert main(["datasets", "get", "dl19", "--head", "3", "-o", str(out)]) == 0
    printed = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    assert Path(printed["run"]).read_bytes() == run
    assert "snapshots" in printed["run"] and printed["qrels"].endswith("qrels.dl19-passage.txt")
    assert out.read_bytes() == b"".join(run.splitlines(keepends=True)[:3])


def test_a_file_that_does_not_match_its_hash_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    offline_dl19(tmp_path, monkeypatch, data_dir)
    qrels = tmp_path / "listrank-cache" / "datasets" / "qrels.dl19-passage.txt"
    qrels.write_bytes(qrels.read_bytes().replace(b" 3\n", b" 2\n", 1))  # same size, other bytes
    with pytest.raises(InputError, match=r"MD5 .* fetch it again"):
        datasets.qrels_file("dl19")
    qrels.write_bytes(b"1 0 d 1\n")
    with pytest.raises(InputError, match="8 bytes"):
        datasets.qrels_file("dl19")


def test_offline_and_not_cached_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    offline_dl19(tmp_path, monkeypatch, data_dir)
    with pytest.raises(InputError, match=r"not in the hub cache and offline.*datasets get dl20"):
        datasets.run_file("dl20")
    with pytest.raises(InputError, match="unknown dataset 'dl9' \\(did you mean 'dl19'\\?\\)"):
        datasets.run_file("dl9")


def test_dataset_flag_fills_input_and_qrels(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = offline_dl19(tmp_path, monkeypatch, data_dir, queries=5)
    trec = tmp_path / "bm25.trec"
    lines = []
    for row in map(json.loads, run.splitlines()):
        for rank, c in enumerate(row["candidates"], start=1):
            lines.append(f"{row['qid']} Q0 {c['docid']} {rank} {c['score']} bm25\n")
    trec.write_text("".join(lines))
    assert (
        main(
            [
                "eval",
                str(trec),
                "--dataset",
                "dl19",
                "--metrics",
                "nDCG@10",
                "--json",
                "--skip-missing",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["queries"] == 5 and 0.0 < result["means"]["nDCG@10"] < 1.0


def test_list_shows_every_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in datasets.CATALOGUE) and datasets.HUB_REPO in out
