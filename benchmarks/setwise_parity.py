"""listrank's setwise prompts next to ielab/llm-rankers' own ``SetwiseLlmRanker.compare`` (the
chat-model path: one user turn, the chat template, ' Passage:' pre-filled, one token).

Needs a checkout of ielab/llm-rankers (its ``llmrankers`` package is imported at run time,
nothing is copied): ``python -m benchmarks setwise_parity /path/to/llm-rankers`` (or set
LLM_RANKERS_CHECKOUT); without one it prints "skipped". The model and tokenizer are stand-ins
that record the conversation ``compare`` builds; DL19's BM25 top-100 is cut into blocks of 4
(the heap's c = 3), and every block's prompt is compared with listrank's ``setwise_chat``
template, with ``--brackets keep`` (the reference's text) and listrank's default rule.
"""

from __future__ import annotations

import argparse
import os
import sys
import types
from pathlib import Path
from typing import Any

from benchmarks.rank_llm_parity import DL19, shared_data
from listrank.prompting.templates import load_template
from listrank.runs.io import read_requests


class _Tokenizer:
    """Records the conversation ``compare`` renders; the 'model' always answers 'A'."""

    def __init__(self, torch: Any) -> None:
        self.torch = torch
        self.conversations: list[Any] = []

    def apply_chat_template(self, conversation: Any, **_: Any) -> str:
        self.conversations.append(conversation)
        return "<prompt>"

    def __call__(self, text: Any, **_: Any) -> Any:
        ids = self.torch.tensor([[1, 2, 3]])
        return types.SimpleNamespace(input_ids=types.SimpleNamespace(to=lambda device: ids))

    def decode(self, *_: Any, **__: Any) -> str:
        return "A"


class _Model:
    def __init__(self, torch: Any) -> None:
        self.torch = torch

    def generate(self, input_ids: Any, **_: Any) -> Any:
        return self.torch.tensor([[1, 2, 3, 4]])


def reference_ranker(checkout: Path) -> tuple[Any, Any, _Tokenizer]:
    sys.path.insert(0, str(checkout))
    import torch
    from llmrankers import rankers, setwise  # type: ignore[import-not-found]

    ranker = object.__new__(setwise.SetwiseLlmRanker)
    tokenizer = _Tokenizer(torch)
    ranker.__dict__.update(
        num_permutation=1,
        scoring="generation",
        config=types.SimpleNamespace(model_type="llama"),
        tokenizer=tokenizer,
        llm=_Model(torch),
        device="cpu",
        total_compare=0,
        total_prompt_tokens=0,
        total_completion_tokens=0,
    )
    return ranker, rankers.SearchResult, tokenizer


def run(checkout: Path, block: int = 4) -> str:
    data = shared_data()
    if data is None or not (data / DL19).exists():
        return "skipped: DL19 not found (set LISTRANK_SHARED_DATA)"
    ranker, result_cls, tokenizer = reference_ranker(checkout)
    keep = load_template("setwise_chat").with_text_rules(brackets="keep")
    default = load_template("setwise_chat")
    counts = {"blocks": 0, "with_brackets": 0, "keep": 0, "default": 0, "default_bracketed": 0}
    for req in read_requests(data / DL19):
        texts = [" ".join(c.text.split()) for c in req.candidates]
        for start in range(0, len(texts) - 1, block):
            chunk = texts[start : start + block]
            docs = [result_cls(docid=str(i), score=0.0, text=t) for i, t in enumerate(chunk)]
            ranker.compare(req.query.text, docs)
            theirs = tokenizer.conversations[-1]
            bracketed = any("[" in t or "]" in t for t in chunk) or "[" in req.query.text
            counts["blocks"] += 1
            counts["with_brackets"] += int(bracketed)
            ours_keep = [dict(m) for m in keep.render(req.query.text, chunk).messages]
            ours_default = [dict(m) for m in default.render(req.query.text, chunk).messages]
            counts["keep"] += int(ours_keep == theirs)
            counts["default"] += int(ours_default == theirs)
            counts["default_bracketed"] += int(bracketed and ours_default == theirs)
    n, b = counts["blocks"], counts["with_brackets"]
    return "\n".join(
        [
            f"setwise prompts vs llm-rankers' compare() (DL19 top-100 in blocks of {block})",
            f"blocks: {n}, with brackets in a passage or the query: {b}",
            f"setwise_chat --brackets keep: {counts['keep']}/{n} equal",
            f"setwise_chat (listrank's default rule): {counts['default']}/{n} equal "
            f"({counts['default_bracketed']}/{b} of the blocks with brackets)",
            "answer prefix: ' Passage:' in both; one generated token with -O max_new_tokens=1",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("checkout", nargs="?", default=os.environ.get("LLM_RANKERS_CHECKOUT"))
    args = parser.parse_args(argv)
    if not args.checkout or not (Path(args.checkout) / "llmrankers").is_dir():
        print("skipped: no llm-rankers checkout (pass its path or set LLM_RANKERS_CHECKOUT)")
        return 0
    print(run(Path(args.checkout)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
