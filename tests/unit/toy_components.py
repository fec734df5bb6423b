"""Two toy components, as a contributor adds them: a pointwise scorer method and a backend,
each one class here plus its registration (``registry.register`` in the test, or an entry
point in a package). Nothing else in listrank is touched for them to be routed, validated,
cached, planned and documented."""

from __future__ import annotations

from collections.abc import Sequence

from listrank.backends.base import Feeding, GenerationRequest, GenerationResult
from listrank.backends.fake import FakeBackend
from listrank.methods.base import Method, order_from_scores
from listrank.options import Option, bind
from listrank.types import CallRecord, Candidate, Judgement, Query


class ToyBackend(FakeBackend):
    """Answers every prompt with its length in words, plus an offset set by ``temperature``."""

    name = "toy"
    scripted = False  # takes a model name like a real backend
    feeding = Feeding("batched", 4)
    OPTIONS = (
        Option("temperature", float, 0.0, "added to every answer", changes_answers=True, ge=0),
        Option("lanes", int, 1, "ignored: a scheduling knob", changes_answers=False, ge=1),
    )

    def __init__(self, model: str | None = None, *, temperature: float = 0.0, lanes: int = 1):
        super().__init__(responder=self._answer, model_name=model or "toy-model")
        self.settings = bind(self.OPTIONS, {"temperature": temperature, "lanes": lanes})

    def _answer(self, request: GenerationRequest) -> str:
        words = len(request.messages[-1]["content"].split())
        return str(words + float(self.settings["temperature"]))


class ToyScorer(Method):
    """Pointwise: one generation per candidate, its answer read as a number, plus ``bonus``
    for candidates whose text contains a query word."""

    name = "toy-scorer"
    produces_scores = True
    _per_candidate = True
    OPTIONS = (
        Option("bonus", int, 1, "added when a query word appears", changes_answers=True, ge=0),
    )

    def __init__(self, backend: object, *, bonus: int = 1) -> None:
        self.backend = backend
        self.bonus = bonus

    def estimate_prompt_tokens(self, query: Query, block: Sequence[Candidate]) -> int:
        return sum(len(c.text.split()) for c in block)

    def judge(self, query: Query, blocks: Sequence[Sequence[Candidate]]) -> list[Judgement]:
        flat = [c for b in blocks for c in b]
        requests = [GenerationRequest([{"role": "user", "content": c.text}], 4) for c in flat]
        answers: list[GenerationResult] = self.backend.generate(requests)  # type: ignore[attr-defined]
        out, at = [], 0
        words = set(query.text.split())
        for block in blocks:
            mine = answers[at : at + len(block)]
            at += len(block)
            scores = tuple(
                float(a.text) + (self.bonus if words & set(c.text.split()) else 0)
                for c, a in zip(block, mine, strict=True)
            )
            record = CallRecord(
                self.name, tuple(c.docid for c in block), 1, 1, "", 0.0, scores=scores,
                calls=len(block),
            )  # fmt: skip
            out.append(Judgement(order_from_scores(scores), record, scores=scores))
        return out
