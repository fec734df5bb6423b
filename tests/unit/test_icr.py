"""ICR: scores equal a naive reference from full eager attention maps; cache reuse, layer
selection, capability checks, and use through the Reranker."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from listrank import Reranker
from listrank.backends.fake import FakeBackend
from listrank.backends.hf import HFBackend
from listrank.errors import CapabilityError, ConfigError, TemplateError
from listrank.methods.icr import ICRMethod, parse_layers
from listrank.prompting.templates import PromptTemplate, load_template, neutralize
from listrank.testing import embedded_tokenizer, tiny_model
from listrank.types import Candidate, Query

QUERY = Query("why do dogs bark at night")
BLOCK = [
    Candidate("a", "Cats sleep most of the day and hunt at dusk."),
    Candidate("b", "Dogs bark at night because they hear sounds we cannot hear."),
    Candidate("c", "The stock market closed higher on Tuesday."),
    Candidate("d", "A dog may bark from boredom, fear or to warn its owners."),
]


def _backend(arch: str, layers: int = 2) -> HFBackend:
    model = tiny_model(arch, layers=layers)
    return HFBackend(f"tiny-{arch}", model_obj=model, tokenizer=embedded_tokenizer(), device="cpu")


def _reference_token_scores(arch: str, layers: int, text: str, q_start: int) -> torch.Tensor:
    """Per-token attention from the query span, naive: the whole prompt, no cache, eager
    attention with every full map materialized."""
    model = tiny_model(arch, layers=layers)
    model.set_attn_implementation("eager")
    enc = embedded_tokenizer()(text, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        maps = model(enc["input_ids"], output_attentions=True).attentions
    q = enc.char_to_token(q_start)
    return torch.stack([m[0, :, q:, :].mean(1).sum(0) for m in maps])  # (layers, T)


def _reference_doc_scores(
    arch: str, layers: int, calibrate: bool, used_layers: list[int] | None = None
) -> list[float]:
    backend_text = _backend(arch, layers)
    template = load_template("icr")
    texts = [c.text for c in BLOCK]

    def prompt(query: str) -> str:
        rendered = template.render(query, texts)
        return backend_text.prompt_text(rendered.messages)

    text = prompt(QUERY.text)
    spans = []
    pos = 0
    for i, body in enumerate(texts):
        shown = f"[{i + 1}] {neutralize(body)}"
        at = text.index(shown, pos)
        spans.append((at, at + len(shown)))
        pos = at + len(shown)
    q_start = text.index("Please find information", pos)
    enc = embedded_tokenizer()(text, add_special_tokens=False)
    token_spans = [(enc.char_to_token(a), enc.char_to_token(b - 1) + 1) for a, b in spans]
    pick = slice(None) if used_layers is None else used_layers
    s_q = _reference_token_scores(arch, layers, text, q_start)[pick].sum(0)
    if calibrate:
        s_na = _reference_token_scores(arch, layers, prompt("N/A"), q_start)[pick].sum(0)
    out = []
    for a, b in token_spans:
        if not calibrate:
            out.append(float(s_q[a:b].sum()))
            continue
        c = s_q[a:b] - s_na[a:b]
        keep = c > c.mean() - 2 * c.std()
        out.append(float(c[keep].sum()))
    return out


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gemma"])
@pytest.mark.parametrize("calibrate", [True, False])
def test_scores_equal_naive_full_attention_reference(arch: str, calibrate: bool) -> None:
    method = ICRMethod(_backend(arch), calibration_query="N/A" if calibrate else None)
    (judgement,) = method.judge(QUERY, [BLOCK])
    expected = _reference_doc_scores(arch, 2, calibrate)
    assert judgement.scores == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert list(judgement.order) == sorted(range(len(BLOCK)), key=lambda i: -expected[i])
    assert judgement.filled == frozenset()


def test_layer_selection_sums_only_those_layers_and_stops_early() -> None:
    backend = _backend("llama", layers=3)
    calls: list[tuple[int, ...]] = []
    decoder = backend.model.model.layers
    handles = [
        layer.register_forward_pre_hook(lambda m, a, i=i: calls.append((i, *a[0].shape[:2])))
        for i, layer in enumerate(decoder)
    ]
    try:
        (judgement,) = ICRMethod(backend, layers="0:1").judge(QUERY, [BLOCK])
    finally:
        for h in handles:
            h.remove()
    assert judgement.scores == pytest.approx(
        _reference_doc_scores("llama", 3, True, used_layers=[0]), rel=1e-4, abs=1e-6
    )
    # layers after the last selected one never ran
    assert {c[0] for c in calls} == {0}


def test_prefix_is_encoded_once_and_both_suffixes_run_on_its_cache() -> None:
    backend = _backend("qwen2")
    shapes: list[tuple[int, int]] = []
    layer0 = backend.model.model.layers[0]
    handle = layer0.register_forward_pre_hook(lambda m, a: shapes.append(tuple(a[0].shape[:2])))
    try:
        (judgement,) = ICRMethod(backend).judge(QUERY, [BLOCK])
    finally:
        handle.remove()
    prefix = judgement.record.extra["prefix_tokens"]
    suffixes = judgement.record.extra["suffix_tokens"]
    assert shapes == [(1, prefix), (2, max(suffixes))]
    assert judgement.record.prompt_tokens == prefix + sum(suffixes)


def test_peak_attention_memory_is_far_below_full_maps() -> None:
    backend = _backend("llama")
    long_block = [Candidate(str(i), f"passage {i} " + "word " * 60) for i in range(10)]
    (judgement,) = ICRMethod(backend).judge(QUERY, [long_block])
    extra = judgement.record.extra
    total = extra["prefix_tokens"] + max(extra["suffix_tokens"])
    config = backend.model.config
    naive = config.num_hidden_layers * config.num_attention_heads * total * total * 4
    assert 0 < extra["peak_attention_bytes"] < naive / 10


def test_backends_without_attention_are_rejected_naming_hf() -> None:
    with pytest.raises(CapabilityError, match=r"'attention'.*backends that have it: hf"):
        ICRMethod(FakeBackend())
    with pytest.raises(CapabilityError):
        Reranker(FakeBackend(), method="icr", strategy="single")


def test_template_with_query_before_passages_is_refused() -> None:
    early = PromptTemplate.from_dict(
        {
            "name": "icr_query_first",
            "methods": ["icr"],
            "messages": [{"role": "user", "content": "Query: {query}\n\n{passages}\n\nFind it."}],
        }
    )
    with pytest.raises(TemplateError, match="query must come after all passages"):
        ICRMethod(_backend("llama"), template=early).judge(QUERY, [BLOCK])


@pytest.mark.parametrize(
    ("spec", "expected"),
    [(None, None), ("1:3", [1, 2]), (":2", [0, 1]), ("-1:", [3]), ([0, 3], [0, 3]), ("2", [2])],
)
def test_parse_layers(spec: Any, expected: list[int] | None) -> None:
    assert parse_layers(spec, 4) == expected


@pytest.mark.parametrize("spec", ["5:9", "x", [7], "3:1"])
def test_parse_layers_rejects_bad_specs(spec: Any) -> None:
    with pytest.raises(ConfigError):
        parse_layers(spec, 4)


def test_best_last_shows_the_block_reversed_and_maps_scores_back() -> None:
    backend = _backend("llama")
    (plain,) = ICRMethod(backend, calibration_query=None).judge(QUERY, [BLOCK])
    (flipped,) = ICRMethod(backend, calibration_query=None, best_last=True).judge(
        QUERY, [list(reversed(BLOCK))]
    )
    # the same prompt either way, so the same score per document
    assert plain.scores is not None and flipped.scores is not None
    assert list(reversed(flipped.scores)) == pytest.approx(list(plain.scores), rel=1e-6)


@pytest.mark.parametrize(
    ("strategy", "options"), [("single", {}), ("sliding", {"window": 4, "step": 2})]
)
def test_reranker_with_strategies_returns_permutation_and_full_trace(
    strategy: str, options: dict[str, int]
) -> None:
    reranker = Reranker(_backend("gemma"), method="icr", strategy=strategy, **options)
    candidates = [Candidate(f"d{i}", f"text of document {i} " * 3) for i in range(9)]
    ranking = reranker.rerank(QUERY, candidates)
    assert sorted(ranking.docids) == sorted(c.docid for c in candidates)
    assert ranking.trace.n_calls == reranker.strategy.plan(9).calls
    for record in ranking.trace.calls:
        assert record.method == "icr" and record.scores is not None
        assert len(record.scores) == len(record.docids)
        assert all(math.isfinite(s) for s in record.scores)
        assert record.extra["calibration_query"] == "N/A"
