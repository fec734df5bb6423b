"""`listrank batch --ray` on a local Ray cluster started here: same orders as `listrank rerank`,
a killed worker is retried with nothing lost or doubled, and an interrupted job resumes."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from listrank.backends.base import GenerationRequest
from listrank.backends.fake import FakeBackend
from listrank.batch import BatchJob, run_batch
from listrank.cli import main
from listrank.pipeline.config import PipelineConfig
from listrank.pipeline.reranker import Reranker
from listrank.runs.io import read_requests, result_record
from listrank.types import Candidate, Query, Ranking

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'listrank[ray]')")

CONFIG = PipelineConfig.from_dict({"strategy": {"name": "sliding", "window": 4, "step": 2}})


@pytest.fixture(scope="module", autouse=True)
def ray_cluster() -> Iterator[None]:
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        logging_level=logging.WARNING,
    )
    # the factories below live in this test module, which workers cannot import by name
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    ray.shutdown()


def answer(request: GenerationRequest) -> str:
    prompt = request.messages[-1]["content"] if request.messages else ""
    return "[3] > [1] > [4] > [2]" if "alpha" in prompt else "[2] > [4] > [1] > [3]"


def scripted(config: PipelineConfig) -> Reranker:
    s = config.strategy
    return Reranker(backend=FakeBackend(responder=answer), strategy=s.name, **s.options)


class KillOnce:
    """Kills its own worker process at one query, once (a marker file remembers it)."""

    def __init__(self, marker: Path, qid: str) -> None:
        self.marker, self.qid = marker, qid

    def __call__(self, config: PipelineConfig) -> KillOnce:
        self.inner = scripted(config)
        return self

    def rerank(self, query: Query, candidates: Sequence[Candidate]) -> Ranking:
        if query.qid == self.qid and not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            os._exit(1)
        return self.inner.rerank(query, candidates)


class StopAt:
    def __init__(self, qid: str) -> None:
        self.qid = qid

    def __call__(self, config: PipelineConfig) -> StopAt:
        self.inner = scripted(config)
        return self

    def rerank(self, query: Query, candidates: Sequence[Candidate]) -> Ranking:
        if query.qid == self.qid:
            raise KeyboardInterrupt
        return self.inner.rerank(query, candidates)


def make_input(path: Path, n: int) -> Path:
    lines = []
    for q in range(n):
        word = "alpha" if q % 3 else "beta"
        cands = [
            {"docid": f"{q}-{i}", "text": f"{word} text {i}", "score": 9 - i} for i in range(6)
        ]
        lines.append({"qid": f"q{q}", "query": f"{word} query {q}", "candidates": cands})
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


def read_out(out: Path) -> list[dict[str, object]]:
    files = sorted(out.glob("shard-*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text(encoding="utf-8").splitlines()]


def expected(path: Path) -> list[dict[str, object]]:
    reranker = scripted(CONFIG)
    return [result_record(r, reranker.rerank(r.query, r.candidates)) for r in read_requests(path)]


def ray_job(tmp_path: Path, inp: Path, **kw: object) -> BatchJob:
    return BatchJob(inp, tmp_path / "out", CONFIG, ray=True, workers=2, progress=False, **kw)  # type: ignore[arg-type]


def test_two_workers_give_the_single_process_orders(tmp_path: Path) -> None:
    inp = make_input(tmp_path / "in.jsonl", 9)
    report = run_batch(ray_job(tmp_path, inp, shard_size=2), factory=scripted)
    assert read_out(tmp_path / "out") == expected(inp)
    assert report.computed == 5 and report.summary.queries == 9
    assert sum(s.queries for s in report.workers.values()) == 9
    assert sum(s.calls for s in report.workers.values()) == report.summary.calls > 0


def test_a_killed_worker_is_retried_and_nothing_is_lost_or_doubled(tmp_path: Path) -> None:
    inp = make_input(tmp_path / "in.jsonl", 10)
    marker = tmp_path / "killed"
    report = run_batch(ray_job(tmp_path, inp, shard_size=3), factory=KillOnce(marker, "q4"))
    assert marker.exists()  # the worker really died mid-job
    out = read_out(tmp_path / "out")
    assert Counter(str(r["qid"]) for r in out) == Counter(f"q{i}" for i in range(10))
    assert out == expected(inp)
    assert report.summary.queries == 10
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [s["computed"] for s in manifest["shards"].values()] == [1, 1, 1, 1]
    with pytest.raises(ProcessLookupError):  # that process is gone; its block was redone
        os.kill(int(marker.read_text()), 0)


def test_a_stopped_job_resumes_on_ray_with_only_unfinished_shards(tmp_path: Path) -> None:
    inp = make_input(tmp_path / "in.jsonl", 8)
    local = BatchJob(inp, tmp_path / "out", CONFIG, shard_size=2, progress=False)
    with pytest.raises(KeyboardInterrupt):
        run_batch(local, factory=StopAt("q5"))  # shards 0-1 done, 2 cut off, 3 never started
    report = run_batch(ray_job(tmp_path, inp, shard_size=2), factory=scripted)
    assert (report.skipped, report.computed, report.this_run.queries) == (2, 2, 4)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [s["computed"] for s in manifest["shards"].values()] == [1, 1, 1, 1]
    assert read_out(tmp_path / "out") == expected(inp)


def test_cli_ray_batch_equals_rerank_with_the_tiny_model(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    inp = make_input(tmp_path / "in.jsonl", 5)
    cfg = tmp_path / "pipe.toml"
    cfg.write_text(
        f'[backend]\nmodel = "{tiny_model_dir}"\n'
        '[method]\nmax_new_tokens = 8\n[strategy]\nname = "sliding"\nwindow = 4\nstep = 2\n'
    )
    out, single = tmp_path / "out", tmp_path / "single.jsonl"
    batch = ["batch", str(inp), "-o", str(out), "--config", str(cfg), "--shard-size", "2"]
    ray_trace, single_trace = tmp_path / "ray-calls.jsonl", tmp_path / "calls.jsonl"
    assert (
        main([*batch, "--ray", "--workers", "2", "--no-progress", "--trace", str(ray_trace)]) == 0
    )
    assert main(["rerank", str(inp), "-o", str(single), "--model", str(tiny_model_dir),
                 "--window", "4", "--step", "2", "-O", "max_new_tokens=8",
                 "--no-progress", "--trace", str(single_trace)]) == 0  # fmt: skip
    assert read_out(out) == [json.loads(x) for x in single.read_text().splitlines()]
    # the call trace travels from the Ray workers: the same calls, in input order
    keys = ("qid", "call", "stage", "docids", "raw_answer", "order", "messages")
    traced = [[json.loads(x)[k] for k in keys] for x in ray_trace.read_text().splitlines()]
    assert traced == [
        [json.loads(x)[k] for k in keys] for x in single_trace.read_text().splitlines()
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["summary"]["queries"] == 5
    assert sum(w["queries"] for w in summary["workers"].values()) == 5


@pytest.mark.integration
def test_embedded_model_on_dl19_bm25_top20(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Must-show: `listrank batch --ray --workers 2` gives `listrank rerank`'s orders, from the
    same model computations (identical prompt and completion token counts)."""
    source = data_dir / "trec-dl19-passage" / "dl19.bm25.top100.normalized.jsonl"
    with source.open(encoding="utf-8") as fh:
        rows = [json.loads(next(fh)) for _ in range(2)]
    inp = tmp_path / "dl19.jsonl"
    inp.write_text(
        "".join(json.dumps({**r, "candidates": r["candidates"][:20]}) + "\n" for r in rows)
    )
    cfg = tmp_path / "pipe.toml"
    cfg.write_text(
        # rankgpt named: the embedded model's default method (icr) generates no tokens
        '[method]\nname = "rankgpt"\nmax_passage_words = 30\nmax_new_tokens = 40\n'
        '[strategy]\nname = "sliding"\nwindow = 20\nstep = 10\n'
    )
    out, single = tmp_path / "out", tmp_path / "single.jsonl"
    assert main(["batch", str(inp), "-o", str(out), "--config", str(cfg), "--shard-size", "1",
                 "--ray", "--workers", "2", "--no-progress"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["rerank", str(inp), "-o", str(single), "--method", "rankgpt",
                 "--max-passage-words", "30", "-O", "max_new_tokens=40",
                 "--window", "20", "--step", "10",
                 "--no-progress"]) == 0  # fmt: skip
    single_summary = capsys.readouterr().err  # the summary, bias and stage-latency lines
    got = [[c["docid"] for c in r["candidates"]] for r in read_out(out)]  # type: ignore[attr-defined]
    want = [
        [c["docid"] for c in json.loads(x)["candidates"]] for x in single.read_text().splitlines()
    ]
    assert got == want and len(got) == 2
    batch = json.loads((out / "summary.json").read_text())["summary"]
    assert batch["queries"] == batch["calls"] == 2
    tokens = f"{batch['prompt_tokens']} prompt + {batch['completion_tokens']} completion tokens"
    assert tokens in single_summary
