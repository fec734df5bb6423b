"""Reranker: composes strategy(method(backend)) and returns a Ranking with its full trace."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from listrank import registry
from listrank.backends.cache import CachedBackend
from listrank.backends.planning import stand_in_factory
from listrank.errors import (
    CapabilityError,
    ConfigError,
    InputError,
    UnknownComponentError,
    did_you_mean,
)
from listrank.methods.base import Method
from listrank.methods.calibration import (
    DEFAULT_REFERENCE_BLOCKS,
    CalibratedMethod,
    CalibrationPool,
)
from listrank.methods.wrappers import PermutationAveraged
from listrank.options import Option, check_all
from listrank.pipeline import cancel, scheduler
from listrank.pipeline.cancel import CancellableBackend
from listrank.pipeline.fusion import Fusion
from listrank.pipeline.gate import GatedBackend, StageGate
from listrank.pipeline.prefilter import Prefilter, prefilter_order
from listrank.pipeline.results import RankedResults
from listrank.prompting.presets import load_preset
from listrank.runs import dataframes, safe_json
from listrank.strategies.base import Strategy
from listrank.strategies.planning import chain_plans, method_plan
from listrank.types import (
    CallRecord,
    Candidate,
    Judgement,
    Plan,
    Query,
    RankedCandidate,
    Ranking,
    Trace,
)

if TYPE_CHECKING:
    from listrank.runs.io import Request

DEFAULT_BACKEND = "hf"
DEFAULT_METHOD = "rankgpt"
"""The method for a named model (RankGPT permutation generation, the common baseline)."""
EMBEDDED_METHOD = "icr"
"""The method for the embedded SmolLM2-135M: it cannot follow RankGPT's output format (every
answer is repaired back to the input order), and ICR reorders best of the methods on the
shipped demo set (docs/methods.md, "Default method")."""
DEFAULT_STRATEGY = "sliding"

CandidateLike = str | Candidate | Mapping[str, Any]


def default_method(backend: object, model: str | None) -> str:
    """ICR on the embedded model (the default backend with no model named), else RankGPT."""
    return EMBEDDED_METHOD if backend == DEFAULT_BACKEND and model is None else DEFAULT_METHOD


def _backend_or_model(name: str) -> UnknownComponentError:
    """An unknown backend given alone is usually a model name (rerankers' habit)."""
    err = UnknownComponentError("backend", name, registry.names("backend"))
    if did_you_mean(name, err.known):  # a typo of a backend name: that hint is the right one
        return err
    err.args = (
        f"{err}; did you mean model={name!r}? (the first argument is the backend: "
        f"e.g. Reranker('openai', model={name!r}))",
    )
    return err


def as_query(query: str | Query) -> Query:
    q = query if isinstance(query, Query) else Query(text=str(query))
    if not q.text.strip():
        raise InputError("the query is empty", field="query")
    safe_json.check(q.text, field="query")  # Python callers pass the same door
    safe_json.check(q.qid, field="qid")
    return q


def as_candidates(items: Sequence[CandidateLike]) -> list[Candidate]:
    """Accept plain strings (docids become their positions), mappings or Candidates."""
    out: list[Candidate] = []
    for i, item in enumerate(items):
        if isinstance(item, Candidate):
            out.append(item)
        elif isinstance(item, str):
            out.append(Candidate(docid=str(i), text=item))
        elif isinstance(item, Mapping):
            out.append(_candidate_from_mapping(item, i))
        else:
            raise InputError(
                f"candidate {i} is a {type(item).__name__}; pass str, Candidate or mapping",
                field="candidates",
            )
    seen: set[str] = set()
    for i, c in enumerate(out):
        for name in ("docid", "text", "title"):
            safe_json.check(getattr(c, name), field=f"candidates[{i}].{name}")
        if c.docid in seen:
            raise InputError(f"duplicate docid {c.docid!r}", field="candidates")
        seen.add(c.docid)
    return out


_CANDIDATE_KEYS = tuple(f.name for f in dataclasses.fields(Candidate))


def _candidate_from_mapping(item: Mapping[str, Any], i: int) -> Candidate:
    """A mapping (a Cohere-style ``{"text": ...}`` too); without a docid, its position."""
    unknown = sorted(set(item) - set(_CANDIDATE_KEYS), key=str)
    if unknown:
        raise InputError(
            f"candidate {i}: unknown key(s) {unknown}; a candidate mapping takes "
            f"{', '.join(_CANDIDATE_KEYS)} (docid defaults to the position)",
            field="candidates",
        )
    data = dict(item)
    docid = data.pop("docid", i)
    if not isinstance(docid, str | int) or isinstance(docid, bool) or str(docid) == "":
        raise InputError(f"candidate {i}: docid must be a non-empty string", field="candidates")
    if not isinstance(data.get("text"), str):
        raise InputError(f"candidate {i}: 'text' must be a string", field="candidates")
    return Candidate(docid=str(docid), **data)


LAYER_NAMES = ("backend", "method", "strategy")


def _split_options(
    options: Mapping[str, Any], entries: Mapping[str, registry.Entry | None]
) -> dict[str, dict[str, Any]]:
    """Each option to the one layer that declares it. ``strategy_seed=`` (or a ``[strategy]``
    table) names the layer; a bare name that two layers in use declare is an error naming
    both, never a silent fan-out to each."""
    accepted = {layer: (e.options() if e else set()) for layer, e in entries.items()}
    routed: dict[str, dict[str, Any]] = {layer: {} for layer in entries}
    for key, value in options.items():
        layers, name = [layer for layer, names in accepted.items() if key in names], key
        layer_of, _, bare = key.partition("_")
        if not layers and layer_of in entries:  # qualified: strategy_seed, [strategy] seed
            if bare not in accepted[layer_of]:
                raise ConfigError(_misplaced(layer_of, bare, entries, accepted))
            layers, name = [layer_of], bare
        if not layers:
            raise ConfigError(registry.unknown_option_message(key, entries, _OWN_OPTIONS))
        if len(layers) > 1:
            owners = " and ".join(f"{layer} {entries[layer].name}" for layer in layers)  # type: ignore[union-attr]
            say = " or ".join(f"{layer}_{key}= / [{layer}] {key}" for layer in layers)
            raise ConfigError(f"{key}: {owners} both take it; say {say}")
        entry = entries[layers[0]]
        if entry is not None:
            entry.check_option(name, value)
        routed[layers[0]][name] = value
    return routed


def _misplaced(
    layer: str,
    key: str,
    entries: Mapping[str, registry.Entry | None],
    accepted: Mapping[str, set[str]],
) -> str:
    """A layer's table (or ``layer_key=``) names an option its component does not take."""
    entry = entries[layer]
    here = [other for other, names in accepted.items() if key in names]
    if entry is None or not here:
        return registry.unknown_option_message(key, entries, _OWN_OPTIONS)
    return (
        f"option {key!r} is not one of {layer} {entry.name}'s; "
        + " and ".join(f"{o} {entries[o].name}" for o in here)  # type: ignore[union-attr]
        + f" takes it: put it under [{here[0]}] (or pass {here[0]}_{key}=)"
    )


def qualified(sections: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A config's sections as keyword options: ``{"strategy": {"seed": 3}}`` ->
    ``strategy_seed=3``, so each reaches only its section's component (the Reranker's own
    options stay as they are: they may sit in any section)."""
    return {
        key if key in _OWN_OPTIONS else f"{layer}_{key}": value
        for layer, section in sections.items()
        for key, value in section.items()
        if key != "name"
    }


class Reranker:
    """Rerank candidates for a query with an LLM.

    ``Reranker()`` uses the embedded SmolLM2 on the transformers backend, ICR (attention; the
    135M model cannot follow RankGPT's answer format) and a sliding window of 20 with step 10;
    with a model named, the default method is RankGPT permutation generation. Components may
    be names or objects; ``**options`` go to whichever layer accepts them (e.g. ``window=``,
    ``template=``, ``batch_size=``).

    ``calibrate=True`` (or ``"content-free"``) subtracts a per-slot prior measured on "N/A"
    passages; ``calibrate="reference"`` measures it on ``calibration_blocks`` random blocks
    drawn from ``calibration_pool`` (unlabelled requests of the collection being reranked, or
    a JSONL file of them). Both need a method that scores each slot (first, icr).
    """

    def __init__(
        self,
        backend: str | object = DEFAULT_BACKEND,
        model: str | None = None,
        method: str | Method | None = None,
        strategy: str | Strategy = DEFAULT_STRATEGY,
        *,
        calibrate: bool | str = False,
        calibration_pool: CalibrationPool | Sequence[Request] | str | Path | None = None,
        calibration_blocks: int = DEFAULT_REFERENCE_BLOCKS,
        calibration_seed: int = 0,
        permutations: int = 1,
        permutation_seed: int = 0,
        permutation_design: str = "cyclic",
        fusion: str | Fusion | None = None,
        fusion_weight: float = 0.5,
        fusion_k: int = 60,
        prefilter: Prefilter | None = None,
        cache: str | Path | None = None,
        top_k_candidates: int | None = None,
        rank_start: int = 0,
        shuffle_candidates: int | None = None,
        **options: Any,
    ) -> None:
        own = {
            "calibrate": calibrate,
            "calibration_blocks": calibration_blocks,
            "calibration_seed": calibration_seed,
            "permutations": permutations,
            "permutation_seed": permutation_seed,
            "permutation_design": permutation_design,
            "fusion_weight": fusion_weight,
            "fusion_k": fusion_k,
            "rank_start": rank_start,
            "shuffle_candidates": shuffle_candidates,
        }
        if method is None:
            method = default_method(backend, model)
        if isinstance(backend, str) and model is None and backend not in registry.names("backend"):
            raise _backend_or_model(backend)
        check_all(RERANKER_OPTIONS, own, "the reranker")  # as for a component option
        entries = {
            "backend": registry.get("backend", backend) if isinstance(backend, str) else None,
            "method": registry.get("method", method) if isinstance(method, str) else None,
            "strategy": registry.get("strategy", strategy) if isinstance(strategy, str) else None,
        }
        routed = _split_options(options, entries)
        if self.plans_only:
            cache = None  # a plan makes no call to cache
        if isinstance(backend, str):
            factory = entries["backend"].load()  # type: ignore[union-attr]
            if self.plans_only:  # the backend's tokenizer-only stand-in (backends/planning.py)
                factory = stand_in_factory(factory)
            args = () if getattr(factory, "scripted", False) else (model,)
            backend = factory(*args, **routed["backend"])
        elif model is not None:
            raise ConfigError("pass model= only with a backend name, not a backend object")
        self.backend = CachedBackend(backend, cache) if cache is not None else backend
        self.prefilter = prefilter
        if top_k_candidates is not None and top_k_candidates < 1:
            raise ConfigError(f"top_k_candidates must be >= 1; got {top_k_candidates}")
        self.top_k_candidates = top_k_candidates
        if rank_start < 0:
            raise ConfigError(f"rank_start must be >= 0; got {rank_start}")
        if top_k_candidates is not None and rank_start >= top_k_candidates:
            raise ConfigError(
                f"rank_start ({rank_start}) must be below top_k_candidates ({top_k_candidates})"
            )
        self.rank_start = rank_start
        self.shuffle_candidates = shuffle_candidates
        # every model call of the method goes through the wrappers: the call cache, the stage
        # gate (where rerank_many merges queries' calls), then the cancellation check; a
        # method given as an object is rewired the same way (``Method.with_backend``)
        self._gate: StageGate | None = None
        if isinstance(method, str):
            method = entries["method"].load()(self._wrap(self.backend), **routed["method"])  # type: ignore[union-attr]
        elif isinstance(method, Method):
            method = method.with_backend(
                lambda b: self._wrap(
                    self.backend
                    if b is backend or b is self.backend
                    else (CachedBackend(b, cache) if cache is not None else b)
                )
            )
        bind = getattr(prefilter, "bind", None)
        if callable(bind):  # an LLM prefilter judges on this backend, through the same gate
            bind(self._wrap(self.backend))
        if isinstance(strategy, str):
            strategy = entries["strategy"].load()(**routed["strategy"])  # type: ignore[union-attr]
        assert isinstance(method, Method) and isinstance(strategy, Strategy)
        if strategy.needs_scores and not method.scores_alone:
            raise CapabilityError(
                f"strategy {strategy.name!r} orders candidates by the score each gets alone; "
                f"method {method.name!r} does not score a single candidate. Use "
                "method='pointwise'"
            )
        if calibrate:
            method = CalibratedMethod(
                method,
                calibration="content-free" if calibrate is True else str(calibrate),
                pool=calibration_pool,
                blocks=calibration_blocks,
                seed=calibration_seed,
            )
        elif calibration_pool is not None:
            raise ConfigError("calibration_pool given without calibrate='reference'")
        if permutations != 1:
            method = PermutationAveraged(
                method, k=permutations, seed=permutation_seed, design=permutation_design
            )
        if isinstance(fusion, str):
            fusion = Fusion(fusion, weight=fusion_weight, k=fusion_k)
        self.fusion: Fusion | None = fusion
        self.method: Method = method
        self.strategy: Strategy = strategy

    plans_only: bool = False
    """A planning build (``Reranker.planning``): the backend is its planning stand-in."""

    @classmethod
    def planning(
        cls,
        backend: str | object = DEFAULT_BACKEND,
        model: str | None = None,
        method: str | Method | None = None,
        strategy: str | Strategy = DEFAULT_STRATEGY,
        **options: Any,
    ) -> Reranker:
        """A Reranker for plans only: the same arguments, but a backend named by string is
        its planning stand-in (its tokenizer, no model: no weights loaded, no torch; see
        ``listrank.backends.planning``) and no call cache is opened. ``plan`` counts exactly
        as the real Reranker's; a model call raises BackendError."""
        return _PlanningReranker(backend, model, method, strategy, **options)

    def _wrap(self, backend: Any) -> Any:
        """``backend`` as a method sees it: through the stage gate, then the cancellation
        check (one gate per reranker, shared by every method that calls the same backend)."""
        if self._gate is None:
            self._gate = StageGate(backend)
        gate = self._gate if self._gate.inner is backend else StageGate(backend)
        return CancellableBackend(GatedBackend(backend, gate))

    @classmethod
    def from_preset(
        cls,
        name: str,
        model: str | None = None,
        backend: str | object = DEFAULT_BACKEND,
        **options: Any,
    ) -> Reranker:
        """A Reranker set up as a known checkpoint or paper expects (``listrank presets list``):
        its prompt, method, block plan and text handling; ``options`` override the preset's."""
        preset = load_preset(name)
        return cls(
            backend=backend,
            model=model,
            method=str(preset.method["name"]),
            strategy=str(preset.strategy["name"]),
            **{**qualified(preset.pipeline()), **options},
        )

    def plan(
        self,
        n: int,
        query: str | Query | None = None,
        candidates: Sequence[CandidateLike] | None = None,
    ) -> Plan:
        """The strategy's plan for n candidates; with a query and candidates, also the prompt
        tokens estimated with the backend's tokenizer (blocks filled from the candidates)."""
        if self.top_k_candidates is not None:
            n = min(n, self.top_k_candidates)
        n = max(0, n - self.rank_start)
        plan = self._plan(min(n, self.prefilter.k) if self.prefilter else n)
        llm_prefilter = self._llm_prefilter()
        if query is None or not candidates:
            return plan if llm_prefilter is None else chain_plans(llm_prefilter.plan(n), plan)
        q, cands = as_query(query), as_candidates(candidates)
        if llm_prefilter is not None:
            pre = llm_prefilter.estimate(n, q, cands[:n])
            return chain_plans(pre, self._estimate(plan, q, cands))
        return self._estimate(plan, q, cands)

    def _llm_prefilter(self) -> Any:
        """The prefilter when it is an LLM stage with its own plan and trace, else None."""
        return self.prefilter if hasattr(self.prefilter, "rank") else None

    def _estimate(self, plan: Plan, q: Query, cands: list[Candidate]) -> Plan:
        """``plan`` with its prompt tokens estimated on ``cands``."""
        cache: dict[int, int] = {}
        total = 0
        for size in plan.block_sizes:
            if size not in cache:
                cache[size] = self.method.estimate_prompt_tokens(q, cands[:size])
            total += cache[size]
        # the priors' calls, planned in _plan, cost tokens too
        total += self.method.prior_prompt_tokens(plan.block_sizes)
        return dataclasses.replace(plan, prompt_tokens=total)

    def rank(
        self,
        query: str | Query,
        docs: Sequence[CandidateLike],
        doc_ids: Sequence[str | int] | None = None,
    ) -> RankedResults:
        """rerankers' ``rank``: the docs best first, iterable and indexable, with ``top_k(k)``,
        ``.docids`` and each item's text, new rank and the model's own score (None for
        permutation methods). ``doc_ids`` names plain-string docs (default: their positions)."""
        if doc_ids is not None:
            if len(doc_ids) != len(docs):
                raise InputError(
                    f"doc_ids has {len(doc_ids)} ids for {len(docs)} docs", field="doc_ids"
                )
            docs = [
                Candidate(str(i), d) if isinstance(d, str) else d
                for i, d in zip(doc_ids, docs, strict=True)
            ]
        candidates = as_candidates(docs)
        ranking = self.rerank(query, candidates)
        return RankedResults(ranking, candidates, self.method.name)

    def rerank(self, query: str | Query, candidates: Sequence[CandidateLike]) -> Ranking:
        q = as_query(query)
        cands = as_candidates(candidates)
        stage_latency: dict[str, float] = {}
        tail: list[Candidate] = []
        if self.top_k_candidates is not None:
            # rank_llm's top_k_candidates: only the head is reranked, the rest keeps its order
            cands, tail = cands[: self.top_k_candidates], cands[self.top_k_candidates :]
        # rank_llm's rank_start: the first candidates stay on top, unjudged
        top, cands = cands[: self.rank_start], cands[self.rank_start :]
        if self.shuffle_candidates is not None:
            # rank_llm's --shuffle-candidates, seeded here so a run can be repeated
            cands = list(cands)
            random.Random(self.shuffle_candidates).shuffle(cands)
        llm_prefilter = self._llm_prefilter()
        if llm_prefilter is not None:
            start = time.perf_counter()
            pre = llm_prefilter.rank(q, cands)
            stage_latency["prefilter"] = time.perf_counter() - start
            ordered = [r.candidate for r in pre.ranked]
            if sorted(c.docid for c in ordered) != sorted(c.docid for c in cands):
                raise ConfigError("the LLM prefilter lost or duplicated candidates")
            cands, tail = ordered[: llm_prefilter.k], ordered[llm_prefilter.k :] + tail
            ranking = self._rerank_llm(q, cands, stage_latency, before=pre.trace)
        elif self.prefilter is not None:
            start = time.perf_counter()
            pf_scores = self.prefilter.scores(q, cands)
            stage_latency["prefilter"] = time.perf_counter() - start
            if len(pf_scores) != len(cands):
                raise ConfigError(f"prefilter {self.prefilter.name} returned a wrong score count")
            ordered = [cands[i] for i in prefilter_order(pf_scores)]
            cands, tail = ordered[: self.prefilter.k], ordered[self.prefilter.k :] + tail
            ranking = self._rerank_llm(q, cands, stage_latency)
        else:
            ranking = self._rerank_llm(q, cands, stage_latency)
        if top:
            ceiling = max((r.score for r in ranking.ranked), default=0.0)
            above = tuple(RankedCandidate(c, ceiling + len(top) - i) for i, c in enumerate(top))
            ranking = dataclasses.replace(ranking, ranked=above + ranking.ranked)
        if not tail:
            return ranking
        # the tail sits strictly below the LLM-ranked head, in prefilter (then input) order
        floor = min((r.score for r in ranking.ranked), default=0.0)
        rest = tuple(RankedCandidate(c, floor - 1.0 - i) for i, c in enumerate(tail))
        return dataclasses.replace(ranking, ranked=ranking.ranked + rest)

    def _rerank_llm(
        self,
        q: Query,
        cands: list[Candidate],
        stage_latency: dict[str, float],
        before: Trace | None = None,
    ) -> Ranking:
        """The listwise stage; ``before`` is an LLM prefilter's trace, whose calls come first
        (its stages numbered before this stage's)."""
        records: list[CallRecord] = [
            dataclasses.replace(c, extra={**c.extra, "pipeline_stage": "prefilter"})
            for c in (before.calls if before is not None else ())
        ]
        offset = 1 + max((c.stage for c in records), default=-1)
        stages = [offset]

        def judge(blocks: Sequence[Sequence[int]]) -> list[Judgement]:
            cancel.check()  # a cancelled query runs no further stage
            stage = stages[0]
            stages[0] += 1
            start = time.perf_counter()
            judgements = self.method.judge(q, [[cands[i] for i in b] for b in blocks])
            stage_latency[f"llm.stage{stage}"] = time.perf_counter() - start
            if len(judgements) != len(blocks):
                raise ConfigError(
                    f"method {self.method.name} returned a wrong number of judgements"
                )
            for b, j in zip(blocks, judgements, strict=True):
                if sorted(j.order) != list(range(len(b))):
                    raise ConfigError(f"method {self.method.name} returned a non-permutation")
                label = getattr(b, "label", "")
                extra = {**j.record.extra, "block": label} if label else j.record.extra
                records.append(
                    dataclasses.replace(j.record, stage=stage, extra=extra, order=j.order)
                )
            return judgements

        n = len(cands)
        plan = self._plan(n)  # before judging: calibration priors are computed while judging
        if before is not None and before.plan is not None:
            plan = chain_plans(before.plan, plan)
        result = self.strategy.rank(n, judge)
        if sorted(result.order) != list(range(n)):
            raise ConfigError(f"strategy {self.strategy.name} lost or duplicated candidates")
        scores = result.scores or [float(n - r) for r in range(n)]
        ranked = tuple(
            RankedCandidate(cands[i], s) for i, s in zip(result.order, scores, strict=True)
        )
        if self.fusion is not None:
            start = time.perf_counter()
            ranked = tuple(self.fusion.fuse(cands, ranked))
            stage_latency["fusion"] = time.perf_counter() - start
        trace = Trace(calls=tuple(records), plan=plan, stage_latency_s=stage_latency)
        return Ranking(query=q, ranked=ranked, trace=trace)

    def _plan(self, n: int) -> Plan:
        """The strategy's plan, with the calls the method wrappers add (shuffles, priors)."""
        plan = method_plan(self.strategy.plan(n), self.method)
        return dataclasses.replace(
            plan, reasoning_tokens=_reasoning_worst_case(self.method, plan.calls)
        )

    async def arerank(self, query: str | Query, candidates: Sequence[CandidateLike]) -> Ranking:
        return await asyncio.to_thread(self.rerank, query, candidates)

    # -- many queries at once (pipeline.scheduler) ----------------------------------------
    def default_max_in_flight(self) -> int:
        return scheduler.default_max_in_flight(self.backend)

    def rerank_stream(
        self,
        requests: Iterable[Any],
        *,
        max_in_flight: int | None = None,
        ordered: bool = False,
        on_done: Callable[[scheduler.Outcome], None] | None = None,
    ) -> Iterator[scheduler.Outcome]:
        """Rerank many queries (``runs.io.Request`` objects or ``(query, candidates)`` pairs),
        up to ``max_in_flight`` at once, pulling the input lazily; yield an ``Outcome`` (input
        index, item, ranking or error) as each finishes, or in input order with ``ordered``
        (``on_done`` then still sees each as it finishes). Calls of queries waiting at a stage
        share backend calls."""
        merge = not scheduler.concurrent_calls(self.backend)
        return scheduler.stream(
            self.rerank,
            requests,
            max_in_flight=max_in_flight or self.default_max_in_flight(),
            gate=self._gate if merge else None,
            ordered=ordered,
            on_done=on_done,
        )

    def rerank_in_flight(self, query: str | Query, candidates: Sequence[CandidateLike]) -> Ranking:
        """``rerank`` as one of several queries running in their own threads at once (the
        service's workers): with a backend that runs one batched call at a time, this query's
        calls are merged with those of the others waiting at a stage."""
        if self._gate is None or scheduler.concurrent_calls(self.backend):
            return self.rerank(query, candidates)
        with self._gate.worker():
            return self.rerank(query, candidates)

    def rerank_many(
        self,
        requests: Iterable[Any],
        *,
        max_in_flight: int | None = None,
        return_exceptions: bool = False,
    ) -> list[Any]:
        """What ``rerank`` returns for each query, in input order. A failed query raises one
        QueriesFailedError naming every failed qid once all have run (its ``results`` hold the
        others); with ``return_exceptions=True`` its exception takes its place instead.
        A pandas DataFrame (qid, query, docno|docid, text) comes back as a DataFrame with
        ``score`` and ``rank`` (``runs.dataframes``)."""
        if dataframes.is_dataframe(requests):
            pairs = dataframes.requests_from_dataframe(requests)
            rankings = self.rerank_many(pairs, max_in_flight=max_in_flight)
            return dataframes.rankings_to_dataframe(rankings, requests)  # type: ignore[no-any-return]
        outcomes = self.rerank_stream(requests, max_in_flight=max_in_flight)
        return scheduler.collect(outcomes, return_exceptions=return_exceptions)

    async def arerank_many(
        self,
        requests: Iterable[Any],
        *,
        max_in_flight: int | None = None,
        return_exceptions: bool = False,
    ) -> list[Any]:
        return await asyncio.to_thread(
            self.rerank_many,
            requests,
            max_in_flight=max_in_flight,
            return_exceptions=return_exceptions,
        )

    def arerank_stream(
        self, requests: Iterable[Any], *, max_in_flight: int | None = None
    ) -> AsyncIterator[scheduler.Outcome]:
        """``rerank_stream`` as an async iterator (results as they finish)."""
        return scheduler.astream(lambda: self.rerank_stream(requests, max_in_flight=max_in_flight))


class _PlanningReranker(Reranker):
    plans_only = True


RERANKER_OPTIONS = (
    Option(
        "calibrate",
        bool | str,
        False,
        "subtract a per-slot prior: content-free or reference",
        changes_answers=True,
        example="content-free",
    ),
    Option(
        "calibration_pool",
        object,
        None,
        "unlabelled requests (or a JSONL file) for reference calibration",
        changes_answers=True,
        example="pool.jsonl",
    ),
    Option(
        "calibration_blocks",
        int,
        DEFAULT_REFERENCE_BLOCKS,
        "blocks of a reference prior",
        changes_answers=True,
        example=4,
    ),
    Option("calibration_seed", int, 0, "reference prior draw seed", changes_answers=True),
    Option(
        "permutations",
        int,
        1,
        "orderings of every block judged and averaged",
        changes_answers=True,
        ge=1,
    ),
    Option("permutation_seed", int, 0, "seed of random orderings", changes_answers=True),
    Option(
        "permutation_design",
        str,
        "cyclic",
        "orderings: rotations or random shuffles",
        changes_answers=True,
        choices=("cyclic", "random"),
    ),
    Option(
        "fusion",
        object,
        None,
        "blend with the first stage: rrf or linear",
        changes_answers=True,
        example="rrf",
    ),
    Option("fusion_weight", float, 0.5, "weight of the LLM ranking", changes_answers=True),
    Option("fusion_k", int, 60, "rank offset of rrf", changes_answers=True),
    Option(
        "prefilter",
        object,
        None,
        "a model that cuts candidates first ([prefilter])",
        changes_answers=True,
        internal=True,
    ),
    Option(
        "cache",
        object,
        None,
        "persistent call cache file ([cache] path)",
        changes_answers=False,
        internal=True,
    ),
    Option(
        "top_k_candidates",
        int | None,
        None,
        "rerank only the first K candidates",
        changes_answers=True,
        ge=1,
        example=10,
    ),
    Option(
        "rank_start",
        int,
        0,
        "keep the first candidates on top, unjudged (rank_llm's rank_start)",
        changes_answers=True,
        ge=0,
        example=1,
    ),
    Option(
        "shuffle_candidates",
        int | None,
        None,
        "shuffle the reranked candidates with this seed first (rank_llm's --shuffle-candidates)",
        changes_answers=True,
        example=0,
    ),
)
"""The Reranker's own options (calibration, permutations, fusion, …): any layer's table."""
_OWN_OPTIONS = frozenset(o.name for o in RERANKER_OPTIONS)


def _reasoning_worst_case(method: object, calls: int) -> int | None:
    """Every call thinking its whole reasoning budget (None when the method has none)."""
    while not hasattr(method, "reasoning_budget") and hasattr(method, "inner"):
        method = method.inner
    budget = int(getattr(method, "reasoning_budget", 0) or 0)
    return calls * budget if budget else None
