"""The check every logprob-reading method shares: each label it reads must be exactly one token
for the backend's tokenizer, or its next-token score would be the score of a prefix (rank_llm's
FIRST mode read numbers ≥ 10 that way for months). It fails loudly at construction; there is
no fallback to generation."""

from __future__ import annotations

from collections.abc import Sequence

from listrank.backends.base import SupportsNextTokenLogprobs
from listrank.errors import TemplateError


def require_single_tokens(
    backend: SupportsNextTokenLogprobs, labels: Sequence[str], *, what: str, fix: str
) -> None:
    """Raise a TemplateError naming every label that is not one token (with its token ids).
    ``what`` says who needs it ("<template>: FIRST needs every identifier"), ``fix`` how to
    choose labels that are."""
    bad = {label: ids for label in labels if len(ids := backend.token_ids(label)) != 1}
    if bad:
        shown = ", ".join(f"{label!r} -> {ids}" for label, ids in bad.items())
        raise TemplateError(
            f"{what} to be exactly one token for {backend.model_name}, but these are not: "
            f"{shown}. {fix}"
        )
