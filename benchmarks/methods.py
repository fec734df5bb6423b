"""RankGPT generation vs FIRST single-token logits vs ICR attention on the embedded SmolLM2.

TREC DL19 passage, BM25 top-100 (../shared/data). Per method and strategy: nDCG@10
(ir-measures), mean latency per query, model calls, prompt tokens, peak RSS, and for ICR the
peak attention tensor memory next to the size of the full attention maps a naive
``output_attentions=True`` pass would hold. Methods run back to back on each query (not one
method after the other) so machine load drifts hit them alike; compare ratios, not seconds.

    python -m benchmarks.methods [--queries N] [--deep-queries M]
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "trec-dl19-passage"
RUN_FILE = "dl19.bm25.top100.normalized.jsonl"
QRELS_FILE = "qrels.dl19-passage.txt"


@dataclass(frozen=True, eq=False)
class Setting:
    label: str
    method: str
    strategy: str
    depth: int
    options: dict[str, Any] = field(default_factory=dict)
    deep: bool = False
    """Run only on the first --deep-queries queries (the slow 100-candidate settings)."""


SETTINGS = (
    Setting("rankgpt sliding 20/10", "rankgpt", "sliding", 20),
    Setting("first sliding 20/10", "first", "sliding", 20),
    Setting("icr sliding 20/10", "icr", "sliding", 20),
    Setting("rankgpt sliding 20/10", "rankgpt", "sliding", 100, deep=True),
    Setting("first sliding 20/10", "first", "sliding", 100, deep=True),
    Setting("icr sliding 20/10", "icr", "sliding", 100, deep=True),
    Setting("icr single (all 100)", "icr", "single", 100, deep=True),
    Setting("icr single, layers 0:15", "icr", "single", 100, {"layers": "0:15"}, deep=True),
)


@dataclass
class Tally:
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    run: dict[str, dict[str, float]] = field(default_factory=dict)
    peak_rss: int = 0
    peak_attention: int = 0
    naive_attention: int = 0


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def _rss_peak(tally: Tally, every_s: float = 0.02) -> Iterator[None]:
    """Sample this process's resident memory while the block runs (per-setting peak)."""
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            tally.peak_rss = max(tally.peak_rss, _rss_bytes())
            stop.wait(every_s)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _ndcg10(run: dict[str, dict[str, float]], qrels: dict[str, dict[str, int]]) -> float:
    import ir_measures

    judged = {q: qrels[q] for q in run if q in qrels}
    if not judged:
        return float("nan")
    return float(
        ir_measures.calc_aggregate([ir_measures.nDCG @ 10], judged, run)[ir_measures.nDCG @ 10]
    )


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 4:
            qrels.setdefault(parts[0], {})[parts[2]] = int(parts[3])
    return qrels


def _by_rank(docids: list[str]) -> dict[str, float]:
    return {d: float(len(docids) - i) for i, d in enumerate(docids)}


def _attention_sizes(backend: Any, calls: Any) -> tuple[int, int]:
    config = backend.model.config
    peak = naive = 0
    for c in calls:
        if "peak_attention_bytes" in c.extra:
            peak = max(peak, int(c.extra["peak_attention_bytes"]))
            t = int(c.extra["prefix_tokens"]) + max(c.extra["suffix_tokens"])
            layers = int(c.extra["layers"])
            naive = max(naive, layers * config.num_attention_heads * t * t * 4)
    return peak, naive


def run(queries: int, deep_queries: int) -> str:
    from listrank import Reranker
    from listrank.backends.hf import HFBackend

    rows = [json.loads(line) for line in (DATA / RUN_FILE).read_text().splitlines() if line]
    qrels = _read_qrels(DATA / QRELS_FILE)
    rows = [r for r in rows if r["qid"] in qrels][: max(queries, deep_queries)]
    backend = HFBackend()
    rerankers = {
        s: Reranker(backend, method=s.method, strategy=s.strategy, **s.options) for s in SETTINGS
    }
    tallies = {s: Tally() for s in SETTINGS}
    bm25: dict[int, dict[str, dict[str, float]]] = {20: {}, 100: {}}
    for n, row in enumerate(rows):
        for s in SETTINGS:
            if (s.deep and n >= deep_queries) or (not s.deep and n >= queries):
                continue
            cands = row["candidates"][: s.depth]
            bm25[s.depth][row["qid"]] = _by_rank([c["docid"] for c in cands])
            tally = tallies[s]
            with _rss_peak(tally):
                start, cpu = time.perf_counter(), time.process_time()
                ranking = rerankers[s].rerank(row["query"], cands)
                tally.seconds.append(time.perf_counter() - start)
                tally.cpu_seconds.append(time.process_time() - cpu)
            assert sorted(ranking.docids) == sorted(c["docid"] for c in cands)
            tally.run[row["qid"]] = _by_rank(ranking.docids)
            tally.calls += ranking.trace.n_calls
            tally.prompt_tokens += ranking.trace.prompt_tokens
            tally.completion_tokens += ranking.trace.completion_tokens
            peak, naive = _attention_sizes(backend, ranking.trace.calls)
            tally.peak_attention = max(tally.peak_attention, peak)
            tally.naive_attention = max(tally.naive_attention, naive)
        # the table so far after every query: a long run interrupted still reports
        print(f"after query {n + 1}/{len(rows)}:\n{_table(tallies, bm25, qrels)}\n", flush=True)
    return _table(tallies, bm25, qrels)


def _table(
    tallies: dict[Setting, Tally],
    bm25: dict[int, dict[str, dict[str, float]]],
    qrels: dict[str, dict[str, int]],
) -> str:
    head = (
        "| setting | cands | queries | nDCG@10 | s/query | CPU s/query | calls/query "
        "| prompt tok/query | gen tok/query | peak RSS | ICR attn peak / naive maps |"
    )
    lines = [head, "|" + "---|" * 11]
    for depth, run in bm25.items():
        if run:
            lines.append(
                f"| BM25 first stage | {depth} | {len(run)} | {_ndcg10(run, qrels):.4f} "
                "| – | – | – | – | – | – | – |"
            )
    ref: dict[int, tuple[float, float]] = {}
    for s, t in tallies.items():
        if not t.seconds:
            continue
        q = len(t.seconds)
        mean_s = sum(t.seconds) / q
        if s.method == "rankgpt":
            ref[s.depth] = (mean_s, sum(t.cpu_seconds) / q)
        attention = (
            f"{t.peak_attention / 2**20:.1f} MiB / {t.naive_attention / 2**30:.1f} GiB"
            if t.naive_attention
            else "–"
        )
        lines.append(
            f"| {s.label} | {s.depth} | {q} | {_ndcg10(t.run, qrels):.4f} | {mean_s:.2f} "
            f"| {sum(t.cpu_seconds) / q:.2f} "
            f"| {t.calls / q:.1f} | {t.prompt_tokens / q:,.0f} | {t.completion_tokens / q:.1f} "
            f"| {t.peak_rss / 2**30:.2f} GiB | {attention} |"
        )
    lines.append("")
    lines.append(
        "Latency vs RankGPT sliding 20/10 on the same candidates and queries (wall / CPU time):"
    )
    for s, t in tallies.items():
        if t.seconds and s.method != "rankgpt" and s.depth in ref:
            wall = 1 - (sum(t.seconds) / len(t.seconds)) / ref[s.depth][0]
            cpu = 1 - (sum(t.cpu_seconds) / len(t.cpu_seconds)) / ref[s.depth][1]
            lines.append(f"  {s.label} on {s.depth}: {100 * wall:.0f}% / {100 * cpu:.0f}% faster")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=6, help="queries for the top-20 settings")
    parser.add_argument(
        "--deep-queries", type=int, default=2, help="queries for the top-100 settings"
    )
    args = parser.parse_args(argv)
    if not (DATA / RUN_FILE).exists():
        print(f"skipped: test collection not found at {DATA.resolve()}")
        return 0
    print("final:\n" + run(args.queries, args.deep_queries))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
