"""A resumed run reuses its journal only when nothing its output depends on changed: change any
input between a kill and a resume (corpus, topics, template file, calibration pool, config) and
the output equals an uninterrupted run on the new inputs; a damaged journal entry is redone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from listrank.cli import main
from listrank.runs.journal import Journal
from tests.support import scripted


@pytest.fixture(autouse=True)
def _scripted_backend() -> Iterator[None]:
    with scripted.registered():
        yield


BASE = ["--backend", "scripted", "--strategy", "single", "--no-progress"]


def _write_trec(tmp: Path, texts: dict[str, str]) -> tuple[Path, Path, Path]:
    run, corpus, topics = tmp / "run.trec", tmp / "corpus.tsv", tmp / "topics.tsv"
    lines = []
    for q in range(3):
        for d in range(5):
            lines.append(f"q{q} Q0 d{q}{d} {d + 1} {10 - d} bm25")
    run.write_text("\n".join(lines) + "\n")
    corpus.write_text("".join(f"{k}\t{v}\n" for k, v in texts.items()))
    topics.write_text("".join(f"q{q}\tquery number {q}\n" for q in range(3)))
    return run, corpus, topics


def _texts(tag: str = "") -> dict[str, str]:
    return {f"d{q}{d}": f"passage {q}{d} about topic {d}{tag}" for q in range(3) for d in range(5)}


def _rerank(args: list[str]) -> int:
    return main(["rerank", *args, *BASE])


def _killed_after_journaling(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    """A run that journals every query and is killed before it removes the journal."""
    with monkeypatch.context() as m:
        m.setattr(Journal, "remove", Journal.close)
        assert _rerank(args) == 0


@pytest.mark.parametrize("what", ["corpus", "topics"])
def test_a_changed_corpus_or_topics_file_is_not_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], what: str
) -> None:
    run, corpus, topics = _write_trec(tmp_path, _texts())
    args = [str(run), "--corpus", str(corpus), "--topics", str(topics)]
    out, clean = tmp_path / "out.jsonl", tmp_path / "clean.jsonl"
    _killed_after_journaling(monkeypatch, [*args, "-o", str(out)])
    first = out.read_bytes()
    if what == "corpus":
        _write_trec(tmp_path, _texts(" (fixed)"))
    else:
        topics.write_text("".join(f"q{q}\tanother query {q}\n" for q in range(3)))
    capsys.readouterr()
    assert _rerank([*args, "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "resuming" not in err and f"{what} changed" in err, err
    assert _rerank([*args, "-o", str(clean)]) == 0
    assert out.read_bytes() == clean.read_bytes() != first


def _requests(path: Path) -> Path:
    lines = []
    for q in range(3):
        cands = [{"docid": f"d{q}{d}", "text": f"passage {q}{d} topic {d}"} for d in range(5)]
        lines.append(json.dumps({"qid": f"q{q}", "query": f"query {q}", "candidates": cands}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_edited_template_file_is_not_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], repo: Path
) -> None:
    inp = _requests(tmp_path / "in.jsonl")
    template = tmp_path / "mine.toml"
    original = (repo / "prompts" / "rankgpt_single.toml").read_text()
    template.write_text(original)
    args = [str(inp), "--template", str(template)]
    out, clean = tmp_path / "out.jsonl", tmp_path / "clean.jsonl"
    _killed_after_journaling(monkeypatch, [*args, "-o", str(out)])
    first = out.read_bytes()
    template.write_text(original.replace("intelligent assistant", "careful assistant"))
    capsys.readouterr()
    assert _rerank([*args, "-o", str(out)]) == 0
    assert "mine.toml" in capsys.readouterr().err
    assert _rerank([*args, "-o", str(clean)]) == 0
    assert out.read_bytes() == clean.read_bytes() != first


def test_a_template_named_in_a_config_file_is_covered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repo: Path
) -> None:
    inp = _requests(tmp_path / "in.jsonl")
    template = tmp_path / "t.toml"
    original = (repo / "prompts" / "rankgpt_single.toml").read_text()
    template.write_text(original)
    config = tmp_path / "pipe.toml"
    config.write_text(f'[method]\nname = "rankgpt"\ntemplate = "{template}"\n')
    args = [str(inp), "--config", str(config)]
    out, clean = tmp_path / "out.jsonl", tmp_path / "clean.jsonl"
    _killed_after_journaling(monkeypatch, [*args, "-o", str(out)])
    first = out.read_bytes()
    template.write_text(original.replace("RankLLM", "Ranker"))
    assert _rerank([*args, "-o", str(out)]) == 0
    assert _rerank([*args, "-o", str(clean)]) == 0
    assert out.read_bytes() == clean.read_bytes() != first


def test_a_changed_calibration_pool_is_not_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inp = _requests(tmp_path / "in.jsonl")
    pool = _requests(tmp_path / "pool.jsonl")
    args = [str(inp), "--method", "first", "--calibrate", "reference"]
    args += ["--calibration-pool", str(pool), "--calibration-blocks", "2"]
    out, clean = tmp_path / "out.jsonl", tmp_path / "clean.jsonl"
    _killed_after_journaling(monkeypatch, [*args, "-o", str(out)])
    first = out.read_bytes()
    pool.write_text(pool.read_text().replace("topic", "subject"))
    assert _rerank([*args, "-o", str(out)]) == 0
    assert _rerank([*args, "-o", str(clean)]) == 0
    assert out.read_bytes() == clean.read_bytes() != first


def test_a_damaged_journal_entry_is_redone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    inp = _requests(tmp_path / "in.jsonl")
    out = tmp_path / "out.jsonl"
    _killed_after_journaling(monkeypatch, [str(inp), "-o", str(out)])
    clean = out.read_bytes()
    journal = Path(f"{out}.journal")
    lines = journal.read_text().splitlines(keepends=True)
    entry = json.loads(lines[2])
    # a damaged entry: its text swapped for another query's, still valid JSON
    entry["text"] = json.loads(lines[1])["text"]
    lines[2] = json.dumps(entry) + "\n"
    journal.write_text("".join(lines))
    capsys.readouterr()
    assert _rerank([str(inp), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "resuming: 2 of 3" in err and "1 damaged" in err, err
    assert out.read_bytes() == clean


# -- batch shards --------------------------------------------------------------------------
def _batch_job(tmp: Path, inp: Path, config: object = None, **kw: object) -> object:
    from listrank.batch import BatchJob
    from tests.unit.test_batch import CONFIG

    return BatchJob(inp, tmp / "out", config or CONFIG, shard_size=2, progress=False, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("damage", ["truncated", "emptied", "edited"])
def test_a_damaged_shard_is_recomputed(tmp_path: Path, damage: str) -> None:
    from listrank.batch import run_batch
    from tests.unit.test_batch import Counting, expected, make_input, read_out, scripted

    inp = make_input(tmp_path / "in.jsonl", 4, "flat")
    run_batch(_batch_job(tmp_path, inp), factory=scripted)  # type: ignore[arg-type]
    shard = tmp_path / "out" / "shard-00001.jsonl"
    data = shard.read_bytes()
    if damage == "truncated":
        shard.write_bytes(data[: len(data) // 2 + 1])
    elif damage == "emptied":
        shard.write_bytes(b"")
    else:  # same length, other bytes
        shard.write_bytes(data.replace(b"q3", b"q9"))
    again = Counting()
    report = run_batch(_batch_job(tmp_path, inp), factory=again)  # type: ignore[arg-type]
    assert set(again.calls) == {"q2", "q3"} and report.computed == 1
    assert read_out(tmp_path / "out") == expected(inp)


def test_a_batch_job_with_an_edited_template_is_refused_naming_the_flag(
    tmp_path: Path, repo: Path
) -> None:
    from listrank.batch import run_batch
    from listrank.errors import ConfigError
    from listrank.pipeline.config import PipelineConfig
    from tests.unit.test_batch import Counting, make_input, scripted

    inp = make_input(tmp_path / "in.jsonl", 4, "flat")
    template = tmp_path / "t.toml"
    original = (repo / "prompts" / "rankgpt_single.toml").read_text()
    template.write_text(original)
    config = PipelineConfig.from_dict(
        {"method": {"name": "rankgpt", "template": str(template)}, "strategy": {"name": "single"}}
    )
    run_batch(_batch_job(tmp_path, inp, config), factory=scripted)  # type: ignore[arg-type]
    template.write_text(original.replace("RankLLM", "Ranker"))
    with pytest.raises(ConfigError, match=r"t\.toml.*--restart"):
        run_batch(_batch_job(tmp_path, inp, config), factory=scripted)  # type: ignore[arg-type]
    again = Counting()
    report = run_batch(_batch_job(tmp_path, inp, config, restart=True), factory=again)  # type: ignore[arg-type]
    assert report.computed == 2 and sum(again.calls.values()) == 4
