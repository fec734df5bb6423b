"""A synthetic `ab --out` folder of any size on the scripted fake backend, for rendering tests
and the view benchmark (the model is beside the point there; the folder's shape is not).

Queries have graded passages; the systems are the first stage, a judge that ranks by the grade
written in each passage, and one that reads them backwards and mangles some answers (so the
trace has repairs). Written with the same library writers as `listrank ab`."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from listrank.backends.base import GenerationRequest
from listrank.backends.fake import FakeBackend
from listrank.evaluation.ab import FIRST_STAGE, FirstStage, plot_differences, run_ab
from listrank.pipeline.reranker import Reranker
from listrank.runs.io import atomic_writer, read_requests, trec_lines
from listrank.runs.trace import trace_text

_PASSAGE = re.compile(r"^\[(\d+)\] (.*)$", re.S)
_GRADE = re.compile(r"grade=(\d+)")


def _passages(request: GenerationRequest) -> list[tuple[str, int]]:
    found = []
    for msg in request.messages:
        m = _PASSAGE.match(msg["content"]) if msg["role"] == "user" else None
        if m:
            g = _GRADE.search(m.group(2))
            found.append((m.group(1), int(g.group(1)) if g else 0))
    return found


def by_grade(request: GenerationRequest) -> str:
    ranked = sorted(_passages(request), key=lambda p: -p[1])
    return " > ".join(f"[{i}]" for i, _ in ranked)


def backwards(request: GenerationRequest) -> str:
    ranked = sorted(_passages(request), key=lambda p: p[1])
    ids = [f"[{i}]" for i, _ in ranked]
    if len(ids) > 3 and int(ranked[0][0]) % 3 == 0:
        ids = [*ids[:-2], ids[0]]  # two missing, one duplicated: repaired and counted
    return " > ".join(ids)


def write_synthetic_ab(folder: Path, queries: int, candidates: int = 30, seed: int = 0) -> Path:
    """Write input.jsonl, qrels.txt and an A/B folder ``folder/ab``; returns the A/B folder."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    input_path, qrels_path = folder / "input.jsonl", folder / "qrels.txt"
    with open(input_path, "w", encoding="utf-8") as inp, open(qrels_path, "w") as qrels:
        for q in range(queries):
            qid = f"q{q:05d}"
            cands = []
            for d in range(candidates):
                docid = f"d{q}-{d}"
                grade = rng.choice((0, 0, 0, 1, 1, 2, 3))
                words = " ".join(rng.choice(("alpha", "beta", "gamma", "delta")) for _ in range(20))
                cands.append({"docid": docid, "text": f"passage {docid} grade={grade} {words}"})
                qrels.write(f"{qid} 0 {docid} {grade}\n")
            rng.shuffle(cands)
            inp.write(
                json.dumps({"qid": qid, "query": f"synthetic query {q}", "candidates": cands})
            )
            inp.write("\n")
    requests = read_requests(input_path)
    from listrank.evaluation.metrics import read_qrels

    systems = [
        (FIRST_STAGE, FirstStage()),
        ("by-grade", Reranker(backend=FakeBackend(responder=by_grade), window=10, step=5)),
        ("backwards", Reranker(backend=FakeBackend(responder=backwards), window=10, step=5)),
    ]
    report = run_ab(systems, requests, read_qrels(qrels_path), ["nDCG@10"], progress=False)
    out = folder / "ab"
    data = report.as_dict()
    data.update(input=str(input_path), qrels=str(qrels_path), trace=str(out / "calls.jsonl"))
    with atomic_writer(out / "report.json") as fh:
        json.dump(data, fh, indent=2)
    plot_differences(report, out / "differences.png")
    with atomic_writer(out / "calls.jsonl") as trace:
        for name, per_seed in report.rankings.items():
            with atomic_writer(out / "runs" / f"{name}.trec") as fh:
                for r in per_seed[0]:
                    fh.writelines(trec_lines(r, tag=name))
                    trace.write(trace_text(r, system=name, seed=None))
    return out
