"""Batch jobs without Ray: deterministic shards, atomic shard files, manifest, resume."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from listrank.backends.base import GenerationRequest
from listrank.backends.fake import FakeBackend
from listrank.batch import BatchJob, run_batch
from listrank.batch.collect import ShardCollector
from listrank.batch.shards import Manifest, plan_shards
from listrank.batch.work import QueryResult, payload_request, request_payload
from listrank.errors import ConfigError, InputError
from listrank.pipeline.config import PipelineConfig
from listrank.pipeline.reranker import Reranker
from listrank.runs.io import read_requests, result_record
from listrank.types import Candidate, Query, Ranking

CONFIG = PipelineConfig.from_dict({"strategy": {"name": "sliding", "window": 4, "step": 2}})


def answer(request: GenerationRequest) -> str:
    """A model that prefers passages whose text mentions the query's first word, so orders
    differ from the input order and between queries."""
    prompt = request.messages[-1]["content"] if request.messages else ""
    return "[3] > [1] > [4] > [2]" if "alpha" in prompt else "[2] > [4] > [1] > [3]"


def scripted(config: PipelineConfig) -> Reranker:
    strategy = config.strategy
    return Reranker(
        backend=FakeBackend(responder=answer), strategy=strategy.name, **strategy.options
    )


class Counting:
    """Counts reranks per qid; can fail once at one qid, like a job stopped part-way."""

    def __init__(self, fail_at: str | None = None) -> None:
        self.calls: Counter[str] = Counter()
        self.fail_at = fail_at

    def __call__(self, config: PipelineConfig) -> Counting:
        self.inner = scripted(config)
        return self

    def rerank(self, query: Query, candidates: Sequence[Candidate]) -> Ranking:
        if query.qid == self.fail_at:
            raise KeyboardInterrupt
        self.calls[query.qid] += 1
        return self.inner.rerank(query, candidates)


def make_input(path: Path, n: int, form: str = "flat") -> Path:
    lines = []
    for q in range(n):
        word = "alpha" if q % 2 else "beta"
        cands = [
            {"docid": f"{q}-{i}", "text": f"{word} passage {i}", "score": 9 - i} for i in range(7)
        ]
        if form == "flat":
            lines.append({"qid": f"q{q}", "query": f"{word} query {q}", "candidates": cands})
        else:
            docs = [
                {"docid": c["docid"], "score": c["score"], "doc": {"contents": c["text"]}}
                for c in cands
            ]
            lines.append({"query": {"qid": f"q{q}", "text": f"{word} {q}"}, "candidates": docs})
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


def read_out(out: Path, fmt: str = "jsonl") -> list[dict[str, object]]:
    files = sorted(out.glob(f"shard-*.{fmt}"))
    return [json.loads(line) for f in files for line in f.read_text(encoding="utf-8").splitlines()]


def expected(path: Path) -> list[dict[str, object]]:
    """What a single-process rerank of each query gives."""
    reranker = scripted(CONFIG)
    return [result_record(r, reranker.rerank(r.query, r.candidates)) for r in read_requests(path)]


def job(tmp_path: Path, inp: Path, **kw: object) -> BatchJob:
    return BatchJob(inp, tmp_path / "out", CONFIG, progress=False, **kw)  # type: ignore[arg-type]


def test_shards_are_contiguous_and_cover_the_input_once() -> None:
    shards = plan_shards(10, 4)
    assert [(s.start, s.stop) for s in shards] == [(0, 4), (4, 8), (8, 10)]
    assert shards[0].filename("jsonl") == "shard-00000.jsonl"
    assert plan_shards(10, 4) == shards  # the same input always shards the same way
    with pytest.raises(ConfigError):
        plan_shards(3, 0)


@pytest.mark.parametrize("form", ["flat", "rank_llm"])
def test_payload_round_trips_a_request(tmp_path: Path, form: str) -> None:
    for request in read_requests(make_input(tmp_path / "in.jsonl", 2, form)):
        assert payload_request(request_payload(request)) == request


@pytest.mark.parametrize("form", ["flat", "rank_llm"])
def test_batch_equals_one_process_rerank_in_input_order(tmp_path: Path, form: str) -> None:
    inp = make_input(tmp_path / "in.jsonl", 7, form)
    report = run_batch(job(tmp_path, inp, shard_size=3), factory=scripted)
    out = read_out(tmp_path / "out")
    assert out == expected(inp)
    assert [r["candidates"] for r in out] != [
        json.loads(x)["candidates"] for x in inp.read_text().splitlines()
    ]
    assert (report.shards, report.skipped, report.computed) == (3, 0, 3)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["summary"]["queries"] == 7
    assert summary["summary"]["calls"] == report.summary.calls > 0
    assert set(summary["summary"]) == set(report.summary.as_dict())


def test_interrupted_job_resumes_with_only_unfinished_shards(tmp_path: Path) -> None:
    inp = make_input(tmp_path / "in.jsonl", 8, "flat")
    first = Counting(fail_at="q5")  # shard 2 of [0-2], [3-5], [6-7] is cut off
    with pytest.raises(KeyboardInterrupt):
        run_batch(job(tmp_path, inp, shard_size=3), factory=first)
    done = sorted(p.name for p in (tmp_path / "out").glob("shard-*"))
    assert done == ["shard-00000.jsonl"]
    assert not list((tmp_path / "out").glob(".*.tmp"))  # no partial file left behind

    second = Counting()
    report = run_batch(job(tmp_path, inp, shard_size=3), factory=second)
    assert set(second.calls) == {f"q{i}" for i in range(3, 8)}  # shard 0 not recomputed
    assert all(n == 1 for n in second.calls.values())
    assert (report.skipped, report.computed) == (1, 2)
    assert read_out(tmp_path / "out") == expected(inp)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [s["computed"] for s in manifest["shards"].values()] == [1, 1, 1]
    assert report.summary.queries == 8 and report.this_run.queries == 5

    third = Counting()
    report = run_batch(job(tmp_path, inp, shard_size=3), factory=third)
    assert not third.calls and report.computed == 0 and report.summary.queries == 8


def test_a_deleted_shard_file_is_recomputed(tmp_path: Path) -> None:
    inp = make_input(tmp_path / "in.jsonl", 4, "flat")
    run_batch(job(tmp_path, inp, shard_size=2), factory=scripted)
    (tmp_path / "out" / "shard-00001.jsonl").unlink()
    again = Counting()
    run_batch(job(tmp_path, inp, shard_size=2), factory=again)
    assert set(again.calls) == {"q2", "q3"}
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["shards"]["00001"]["computed"] == 2
    assert read_out(tmp_path / "out") == expected(inp)


def test_resuming_a_different_job_into_the_same_folder_is_refused(tmp_path: Path) -> None:
    inp = make_input(tmp_path / "in.jsonl", 4, "flat")
    run_batch(job(tmp_path, inp, shard_size=2), factory=scripted)
    with pytest.raises(ConfigError, match="shard_size"):
        run_batch(job(tmp_path, inp, shard_size=3), factory=scripted)
    other = BatchJob(inp, tmp_path / "out", CONFIG.with_overrides(options={"step": 1}), 2)
    with pytest.raises(ConfigError, match="config"):
        run_batch(other, factory=scripted)
    make_input(inp, 5, "flat")
    with pytest.raises(ConfigError, match="input_sha256"):
        run_batch(job(tmp_path, inp, shard_size=2), factory=scripted)


def test_bad_input_fails_before_any_work(tmp_path: Path) -> None:
    inp = make_input(tmp_path / "in.jsonl", 3, "flat")
    with inp.open("a") as fh:
        fh.write('{"qid": "x", "query": "q", "candidates": []}\n')
    built = Counting()
    with pytest.raises(InputError, match="line 4"):
        run_batch(job(tmp_path, inp), factory=built)
    assert not hasattr(built, "inner")  # no pipeline was built
    assert not (tmp_path / "out").exists()


def test_collector_keeps_a_repeated_result_once(tmp_path: Path) -> None:
    shards = plan_shards(2, 2)
    manifest = Manifest({"job": 1})
    collector = ShardCollector(tmp_path, shards, "jsonl", manifest)
    stats = {"queries": 1, "calls": 1, "latencies_s": [0.5]}
    first = QueryResult(1, {"qid": "b"}, stats, "w1")
    collector.add(first)
    collector.add(QueryResult(1, {"qid": "b"}, stats, "w2"))  # a retried worker's copy
    with pytest.raises(Exception, match="1 queries unfinished"):
        collector.finish()
    collector.add(QueryResult(0, {"qid": "a"}, stats, "w2"))
    collector.finish()
    lines = (tmp_path / "shard-00000.jsonl").read_text().splitlines()
    assert [json.loads(x)["qid"] for x in lines] == ["a", "b"]
    assert collector.repeats == 1 and collector.summary.queries == 2
    assert {w: s.queries for w, s in collector.workers.items()} == {"w1": 1, "w2": 1}


def test_parquet_shards(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    inp = make_input(tmp_path / "in.jsonl", 3, "rank_llm")
    run_batch(job(tmp_path, inp, shard_size=2, fmt="parquet"), factory=scripted)
    rows = [
        r
        for f in sorted((tmp_path / "out").glob("shard-*.parquet"))
        for r in pq.read_table(f).to_pylist()
    ]
    want = expected(inp)
    assert [r["qid"] for r in rows] == ["q0", "q1", "q2"]
    assert [r["docids"] for r in rows] == [[c["docid"] for c in w["candidates"]] for w in want]  # type: ignore[union-attr]


def test_workers_without_ray_and_missing_ray_are_clear_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inp = make_input(tmp_path / "in.jsonl", 2, "flat")
    with pytest.raises(ConfigError, match="needs --ray"):
        run_batch(job(tmp_path, inp, workers=2), factory=scripted)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(ConfigError, match=r"pip install 'listrank\[ray\]'"):
        run_batch(job(tmp_path, inp, ray=True), factory=scripted)


def test_cli_batch_runs_in_process_and_resumes(tmp_path: Path, tiny_model_dir: Path) -> None:
    from listrank.cli import main

    inp = make_input(tmp_path / "in.jsonl", 3, "flat")
    cfg = tmp_path / "pipe.toml"
    cfg.write_text(
        f'[backend]\nname = "hf"\nmodel = "{tiny_model_dir}"\n'
        '[method]\nname = "rankgpt"\nmax_new_tokens = 6\n'
        '[strategy]\nname = "single"\nwindow = 7\n'
    )
    out = tmp_path / "out"
    args = ["batch", str(inp), "-o", str(out), "--config", str(cfg), "--shard-size", "2"]
    assert main([*args, "--no-progress"]) == 0
    rerank_out = tmp_path / "rerank.jsonl"
    assert main(["rerank", str(inp), "-o", str(rerank_out), "--model", str(tiny_model_dir),
                 "--strategy", "single", "--window", "7", "-O", "max_new_tokens=6",
                 "--no-progress"]) == 0  # fmt: skip
    assert read_out(out) == [json.loads(x) for x in rerank_out.read_text().splitlines()]
    before = (out / "manifest.json").read_text()
    assert main([*args, "--no-progress"]) == 0  # nothing left to do: the manifest is unchanged
    assert json.loads((out / "manifest.json").read_text())["shards"] == json.loads(before)["shards"]
    assert main([*args, "--workers", "2"]) == 2  # needs --ray


def test_reference_calibration_draws_from_the_whole_input_in_every_shard(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    from listrank.cli import main

    inp = make_input(tmp_path / "in.jsonl", 3, "flat")
    flags = ["--model", str(tiny_model_dir), "--method", "first", "--strategy", "single"]
    flags += ["--calibrate", "reference", "--calibration-blocks", "2", "--no-progress"]
    out = tmp_path / "out"
    assert main(["batch", str(inp), "-o", str(out), "--shard-size", "1", *flags]) == 0
    rerank_out = tmp_path / "rerank.jsonl"
    assert main(["rerank", str(inp), "-o", str(rerank_out), *flags]) == 0
    # one prior from the whole file, so one-query shards order exactly as one process does
    assert read_out(out) == [json.loads(x) for x in rerank_out.read_text().splitlines()]
