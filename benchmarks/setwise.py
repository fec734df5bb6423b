"""Setwise heapsort on the embedded SmolLM2 with its own prompt ("which passage is the most
relevant?", one label) by generation and by label logits, next to the same heap asking for a
full ranking of each block (RankGPT single-turn prompt, first item kept).

TREC DL19 passage, BM25 top-``--depth`` (../shared/data), children c = 3, top-k 10. Per
setting: nDCG@10 (ir-measures), model calls, generated tokens and prompt tokens per query,
malformed answers, wall seconds per query. Settings run back to back on each query.

    python -m benchmarks.setwise [--queries N] [--depth D]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from typing import Any

from benchmarks.methods import DATA, QRELS_FILE, RUN_FILE, _by_rank, _ndcg10, _read_qrels

SETTINGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("setwise prompt, generation", {"method": "setwise"}),
    ("setwise prompt, label logits", {"method": "setwise", "scoring": "likelihood"}),
    ("full-ranking prompt (rankgpt_single)", {"method": "rankgpt", "template": "rankgpt_single"}),
)


@dataclass
class Tally:
    seconds: float = 0.0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    malformed: int = 0
    run: dict[str, dict[str, float]] = field(default_factory=dict)


def run(queries: int, depth: int) -> str:
    from listrank import Reranker
    from listrank.backends.hf import HFBackend

    rows = [json.loads(line) for line in (DATA / RUN_FILE).read_text().splitlines() if line]
    qrels = _read_qrels(DATA / QRELS_FILE)
    rows = [r for r in rows if r["qid"] in qrels][:queries]
    backend = HFBackend()
    rerankers = {
        label: Reranker(backend, strategy="setwise", children=3, top_k=10, **options)
        for label, options in SETTINGS
    }
    tallies = {label: Tally() for label, _ in SETTINGS}
    bm25: dict[str, dict[str, float]] = {}
    for row in rows:
        cands = row["candidates"][:depth]
        bm25[row["qid"]] = _by_rank([c["docid"] for c in cands])
        for label, reranker in rerankers.items():
            start = time.perf_counter()
            ranking = reranker.rerank(row["query"], cands)
            t = tallies[label]
            t.seconds += time.perf_counter() - start
            assert sorted(ranking.docids) == sorted(c["docid"] for c in cands)
            t.run[row["qid"]] = _by_rank(ranking.docids)
            t.calls += ranking.trace.n_calls
            t.prompt_tokens += ranking.trace.prompt_tokens
            t.completion_tokens += ranking.trace.completion_tokens
            t.malformed += ranking.trace.malformed_calls
    lines = [
        "| setting | queries | nDCG@10 | calls/query | gen tok/query | prompt tok/query "
        "| malformed calls | s/query |",
        "|" + "---|" * 8,
        f"| BM25 top-{depth} | {len(bm25)} | {_ndcg10(bm25, qrels):.4f} | – | – | – | – | – |",
    ]
    for label, t in tallies.items():
        q = max(1, len(t.run))
        lines.append(
            f"| {label} | {len(t.run)} | {_ndcg10(t.run, qrels):.4f} | {t.calls / q:.1f} "
            f"| {t.completion_tokens / q:.1f} | {t.prompt_tokens / q:,.0f} | {t.malformed} "
            f"| {t.seconds / q:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--queries", type=int, default=3)
    parser.add_argument("--depth", type=int, default=20, help="BM25 candidates per query")
    args = parser.parse_args(argv)
    if not (DATA / RUN_FILE).exists():
        print(f"skipped: test collection not found at {DATA.resolve()}")
        return 0
    print(run(args.queries, args.depth))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
