"""ICR in-context reranking (Chen et al., 2024): rank documents by the attention the query pays
to them, calibrated with the content-free query "N/A".

Per block: the prompt is documents first, then the late instruction and the query. The prefix
up to the late instruction is encoded once; the real query and "N/A" run on its KV cache. For
document token t, s(t) is the attention from the query-span tokens to t, averaged over those
tokens and summed over heads and layers. With calibration c(t) = s_q(t) − s_NA(t); within each
document the tokens with c(t) ≤ mean − 2·std are dropped (as the reference implementation
does, per document) and the score is Σ c(t) over the rest. Without calibration it is Σ s_q(t).

Options: ``calibration_query`` (default "N/A"; None turns calibration off), ``layers`` (sum only
some layers: a list, "a:b" as a Python slice, or "i,j,k"; layers after the last chosen one are
not computed at all, so "0:15" of 30 roughly halves the cost), ``best_last`` (show the block
reversed so the first-stage best sits next to the query, as the reference does for BEIR).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

from listrank.backends.base import AttentionRequest, AttentionResult, SupportsAttention, require
from listrank.errors import BackendError, ConfigError, TemplateError
from listrank.methods.base import (
    PASSAGE_WORDS,
    TEXT_RULES,
    Method,
    order_from_scores,
    passage_word_limits,
    template_for,
    template_option,
)
from listrank.options import Option
from listrank.prompting.budget import (
    DEFAULT_MAX_PASSAGE_WORDS,
    DEFAULT_MIN_PASSAGE_WORDS,
    Fitted,
    fit_prompt,
    passage_text,
)
from listrank.prompting.templates import PromptTemplate, RenderedPrompt
from listrank.types import CallRecord, Candidate, Judgement, Query

CALIBRATION_QUERY = "N/A"
LayerSpec = Sequence[int] | str | None
_Prompt = tuple[RenderedPrompt, list[str]]


def parse_layers(spec: LayerSpec, total: int) -> list[int] | None:
    """Layers to sum: None (all), a list of indices, "a:b" (Python slice, b exclusive, either
    end optional, negatives count from the end) or "i,j,k"."""
    if spec is None:
        return None
    try:
        if isinstance(spec, str):
            text = spec.strip()
            if ":" in text:
                a, _, b = text.partition(":")
                chosen = list(range(total))[slice(int(a) if a else None, int(b) if b else None)]
            else:
                chosen = [int(x) for x in text.split(",") if x.strip()]
        else:
            chosen = [int(x) for x in spec]
    except ValueError as exc:
        raise ConfigError(f"layers={spec!r}: use a list of ints, 'a:b' or 'i,j,k'") from exc
    chosen = sorted({i + total if i < 0 else i for i in chosen})
    if not chosen or chosen[0] < 0 or chosen[-1] >= total:
        raise ConfigError(f"layers={spec!r} selects no valid layer of 0..{total - 1}")
    return chosen


class ICRMethod(Method):
    """Attention-based reranking; needs a backend with the "attention" capability (HF)."""

    name = "icr"
    produces_scores = True
    OPTIONS = (
        template_option("icr"),
        *PASSAGE_WORDS,
        *TEXT_RULES,
        Option(
            "calibration_query",
            str | None,
            CALIBRATION_QUERY,
            "content-free query subtracted (None: no calibration)",
            changes_answers=True,
            example=None,
        ),
        Option(
            "layers",
            list | tuple | str | None,
            None,
            'layers summed: a list, "a:b" or "i,j,k" (None: all)',
            changes_answers=True,
            example="0:1",
        ),
        Option(
            "best_last",
            bool,
            False,
            "show the block reversed (the reference on BEIR)",
            changes_answers=True,
        ),
    )

    def __init__(
        self,
        backend: object,
        *,
        template: str | PromptTemplate = "icr",
        max_passage_words: int = DEFAULT_MAX_PASSAGE_WORDS,
        min_passage_words: int = DEFAULT_MIN_PASSAGE_WORDS,
        brackets: str | None = None,
        clean_text: str | None = None,
        guard: str | None = None,
        calibration_query: str | None = CALIBRATION_QUERY,
        layers: LayerSpec = None,
        best_last: bool = False,
    ) -> None:
        require(backend, SupportsAttention, "attention", self.name)
        self.backend = cast(SupportsAttention, backend)
        self.template = template_for(
            template, "icr", "ICR", brackets=brackets, clean_text=clean_text, guard=guard
        )
        if self.template.uses_turns:
            raise TemplateError(f"{self.template.source}: ICR needs passages inline ({{passages}})")
        self.max_passage_words, self.min_passage_words = passage_word_limits(
            max_passage_words, min_passage_words
        )
        if calibration_query is not None and not calibration_query.strip():
            raise ConfigError(
                "calibration_query must be non-empty text, or None for no calibration"
            )
        self.calibration_query = calibration_query
        """The content-free query of ICR's calibration pass; None scores with s_q alone."""
        self.layers = parse_layers(layers, self.backend.num_layers)
        self.best_last = best_last
        """Show the block reversed, so the first-stage best sits next to the query (the
        reference does this for BEIR); scores are mapped back to input positions."""

    # -- prompt -------------------------------------------------------------------------
    def _fit(self, query: Query, block: Sequence[Candidate]) -> Fitted[_Prompt]:
        # the calibration suffix may be longer than a short query: reserve its length
        reserve = self.backend.count_tokens(self.calibration_query or "") + 1
        return fit_prompt(
            [passage_text(c) for c in self._shown(block)],
            lambda texts: (self.template.render(query.text, texts), texts),
            lambda p: self.backend.count_prompt_tokens(p[0].messages, p[0].assistant_prefix),
            context_length=self.backend.context_length,
            reserve_tokens=reserve,
            max_words=self.max_passage_words,
            min_words=self.min_passage_words,
        )

    def _shown(self, block: Sequence[Candidate]) -> list[Candidate]:
        return list(reversed(block)) if self.best_last else list(block)

    def estimate_prompt_tokens(self, query: Query, block: Sequence[Candidate]) -> int:
        return self._fit(query, block).prompt_tokens

    def _text(self, prompt: RenderedPrompt) -> str:
        return self.backend.prompt_text(prompt.messages, prompt.assistant_prefix)

    def _request(
        self, prompt: RenderedPrompt, texts: list[str]
    ) -> tuple[AttentionRequest, list[int]]:
        """The attention request for a rendered prompt, and the segment index of each doc."""
        text = self._text(prompt)
        # locate each passage, as rendered, in the final prompt text (chat template applied)
        docs: list[tuple[int, int]] = []
        pos = 0
        for ident, body in zip(prompt.identifiers, texts, strict=True):
            shown = self.template.passage.format(id=ident, passage=self.template.show(body))
            shown = getattr(self.backend, "defang", str)(shown)  # as the backend renders it
            at = text.find(shown, pos)
            if at < 0:
                raise TemplateError(f"{self.template.source}: passage [{ident}] not found verbatim")
            docs.append((at, at + len(shown)))
            pos = at + len(shown)
        # the query span: from the first non-blank character after the last passage to the end
        q_start = len(text) - len(text[pos:].lstrip())
        suffixes = [text[q_start:]]
        if self.calibration_query is not None:
            calib = self._text(self.template.render(self.calibration_query, texts))
            if calib[:q_start] != text[:q_start]:
                raise TemplateError(
                    f"{self.template.source}: the query must come after all passages so the "
                    "document prefix can be shared with the calibration query"
                )
            suffixes.append(calib[q_start:])
        segments: list[tuple[int, int]] = []
        doc_index = []
        cursor = 0
        for a, b in docs:
            segments.append((cursor, a))
            doc_index.append(len(segments))
            segments.append((a, b))
            cursor = b
        segments.append((cursor, q_start))
        return AttentionRequest(text[:q_start], suffixes, segments, self.layers), doc_index

    # -- judging ------------------------------------------------------------------------
    def judge(self, query: Query, blocks: Sequence[Sequence[Candidate]]) -> list[Judgement]:
        prepared = []
        for block in blocks:
            prompt, texts = self._fit(query, block).prompt
            prepared.append(self._request(prompt, texts))
        results = self.backend.prefix_attention([r for r, _ in prepared])
        return [
            self._judgement(block, request, doc_index, result)
            for block, (request, doc_index), result in zip(blocks, prepared, results, strict=True)
        ]

    def _judgement(
        self,
        block: Sequence[Candidate],
        request: AttentionRequest,
        doc_index: list[int],
        result: AttentionResult,
    ) -> Judgement:
        spans = result.token_spans
        lengths = [b - a for a, b in spans]
        contiguous = all(
            spans[i][1] == spans[i + 1][0] for i in range(len(spans) - 1) if lengths[i + 1]
        )
        if sum(lengths) != result.prefix_tokens or not contiguous or spans[0][0] != 0:
            raise BackendError(
                f"document token spans do not tile the prompt: {sum(lengths)} tokens in "
                f"segments vs {result.prefix_tokens} in the prefix"
            )
        shown_scores = [self._doc_score(result, spans[i]) for i in doc_index]
        n = len(block)
        scores = list(reversed(shown_scores)) if self.best_last else shown_scores
        nan = [i for i in range(n) if math.isnan(scores[i])]
        order = order_from_scores(scores)
        prompt_tokens = result.prefix_tokens + sum(result.suffix_tokens)
        record = CallRecord(
            method=self.name,
            docids=tuple(c.docid for c in block),
            prompt_tokens=prompt_tokens,
            completion_tokens=0,
            output="",  # attention, no generated text: the scores are the answer
            latency_s=result.latency_s,
            cached=bool(result.extra.get("cached", False)),
            scores=tuple(scores),
            extra={
                **result.extra,
                "calibration_query": self.calibration_query,
                "prefix_tokens": result.prefix_tokens,
                "suffix_tokens": list(result.suffix_tokens),
                "nan": nan,
                "ties": n - len(set(scores)),
            },
            prompt=request.prefix + (request.suffixes[0] if request.suffixes else ""),
        )
        return Judgement(order=order, record=record, scores=tuple(scores), filled=frozenset(nan))

    def _doc_score(self, result: AttentionResult, span: tuple[int, int]) -> float:
        a, b = span
        if b <= a:
            return float("nan")
        s_q = result.scores[0][a:b]
        if self.calibration_query is None:
            return float(sum(s_q))
        c = [x - y for x, y in zip(s_q, result.scores[1][a:b], strict=True)]
        if len(c) < 2:
            return float(sum(c))
        mean = sum(c) / len(c)
        std = math.sqrt(sum((x - mean) ** 2 for x in c) / (len(c) - 1))  # unbiased, as torch
        threshold = mean - 2 * std
        return float(sum(x for x in c if x > threshold))
