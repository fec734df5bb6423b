"""Render chat messages to the exact text a local model reads, with its tokenizer's template,
and count its tokens: shared by the backends that hold a Hugging Face tokenizer (hf, vllm)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from listrank.errors import ConfigError
from listrank.options import Option
from listrank.prompting.injection import defang_tokens
from listrank.types import ChatMessage


def render_chat(
    tokenizer: Any,
    messages: Sequence[ChatMessage],
    assistant_prefix: str = "",
    *,
    thinking: bool | None = None,
    template_kwargs: Mapping[str, Any] | None = None,
) -> str:
    """Chat template + generation prompt + answer prefix; base models without a chat template
    get a plain role-labelled transcript. ``thinking`` is passed as ``enable_thinking`` (Qwen3's
    switch; templates without it ignore it), ``template_kwargs`` as further template variables."""
    # passage text may hold this model's own special tokens: they must stay plain text
    specials = special_tokens(tokenizer)
    msgs = [{**m, "content": defang_tokens(m["content"], specials)} for m in messages]
    if getattr(tokenizer, "chat_template", None):
        kwargs = dict(template_kwargs or {})
        if thinking is not None:
            kwargs["enable_thinking"] = thinking
        text = tokenizer.apply_chat_template(
            msgs, tokenize=False, add_generation_prompt=True, **kwargs
        )
    else:
        text = "".join(f"{m['role']}: {m['content']}\n" for m in msgs) + "assistant: "
    return str(text) + assistant_prefix


def special_tokens(tokenizer: Any) -> list[str]:
    """Every string this tokenizer turns into a special (control) token."""
    found = [str(t) for t in getattr(tokenizer, "all_special_tokens", None) or ()]
    added = getattr(tokenizer, "added_tokens_decoder", None) or {}
    found += [str(t.content) for t in added.values() if getattr(t, "special", False)]
    return found


CHAT_TEMPLATE_KWARGS = Option(
    "chat_template_kwargs",
    dict | None,
    None,
    "further chat-template variables for every prompt",
    changes_answers=True,
    example={"enable_thinking": False},
)
"""The option of every backend that renders prompts with :class:`LocalTokenizer`."""


class LocalTokenizer:
    """Token counting and prompt rendering for a backend with a Hugging Face ``tokenizer``
    and a known ``_context_length``."""

    tokenizer: Any
    model_name: str
    _context_length: int
    chat_template_kwargs: Mapping[str, Any] = {}
    """Further chat-template variables for every prompt (the backend's option)."""

    @property
    def context_length(self) -> int:
        return self._context_length

    def single_token_id(self, token: str) -> int:
        """The id of ``token``, which must be one token: next-token scoring reads one logit."""
        ids = self.token_ids(token)
        if len(ids) != 1:
            raise ConfigError(
                f"{token!r} is {len(ids)} tokens ({ids}) for {self.model_name}; "
                "next-token scoring needs single-token identifiers"
            )
        return int(ids[0])

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def token_ids(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def defang(self, text: str) -> str:
        """``text`` as it appears in a rendered prompt (special-token strings broken up)."""
        return defang_tokens(text, special_tokens(self.tokenizer))

    def prompt_text(
        self,
        messages: Sequence[ChatMessage],
        assistant_prefix: str = "",
        *,
        thinking: bool | None = None,
    ) -> str:
        """The exact text the model reads: chat template, generation prompt, answer prefix."""
        return render_chat(
            self.tokenizer,
            messages,
            assistant_prefix,
            thinking=thinking,
            template_kwargs=self.chat_template_kwargs,
        )

    def count_prompt_tokens(
        self, messages: Sequence[ChatMessage], assistant_prefix: str = ""
    ) -> int:
        return self.count_tokens(self.prompt_text(messages, assistant_prefix))
