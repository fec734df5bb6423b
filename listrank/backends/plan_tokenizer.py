"""A model's tokenizer without transformers: the ``tokenizers`` backend transformers itself
builds, and the chat template rendered with jinja2 exactly as ``apply_chat_template`` renders
it. Plans (``listrank plan``) count prompt tokens with it, so they load neither torch nor
transformers, and their counts are the model's own (tests hold both equal to transformers').

Only the tokenizer-facing surface the methods read is here: ``encode`` without special tokens,
``apply_chat_template(..., tokenize=False)``, the special tokens (for defanging passages) and
the template's variables (``bos_token``, ``eos_token``, … as transformers passes them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from listrank.errors import ConfigError


class PlanningTokenizer:
    """``backend``: a ``tokenizers.Tokenizer``; ``chat_template``: the template string (or a
    dict of named templates, as transformers keeps several); ``special_tokens_map``: the named
    special tokens (the template sees them as variables); ``all_special_tokens``: those and the
    extra special tokens."""

    def __init__(
        self,
        backend: Any,
        *,
        chat_template: str | Mapping[str, str] | None,
        special_tokens_map: Mapping[str, str],
        all_special_tokens: Sequence[str],
        split_special_tokens: bool = False,
    ) -> None:
        # as transformers encodes without truncation or padding: a tokenizer.json may carry
        # either (e.g. truncation at 512), which would cut or pad the counts
        backend.no_truncation()
        backend.no_padding()
        backend.encode_special_tokens = split_special_tokens
        self.backend_tokenizer = backend
        self.chat_template = (
            dict(chat_template) if isinstance(chat_template, Mapping) else (chat_template)
        )
        self.special_tokens_map = dict(special_tokens_map)
        self.all_special_tokens = list(all_special_tokens)
        self.eos_token = self.special_tokens_map.get("eos_token")
        self.pad_token = self.special_tokens_map.get("pad_token")

    @property
    def added_tokens_decoder(self) -> dict[int, Any]:
        """Added tokens by id (``tokenizers.AddedToken``: ``content``, ``special``)."""
        return dict(self.backend_tokenizer.get_added_tokens_decoder())

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        if add_special_tokens:  # the post-processor transformers may rebuild: not needed here
            raise ConfigError("the planning tokenizer encodes without special tokens only")
        return list(self.backend_tokenizer.encode(text, add_special_tokens=False).ids)

    def get_chat_template(self) -> str:
        """The template transformers picks with no name and no tools."""
        template = self.chat_template
        if isinstance(template, dict):
            if "default" not in template:
                raise ConfigError(
                    f"the model has several chat templates ({sorted(template)}) and no default"
                )
            return str(template["default"])
        if not template:
            raise ConfigError("the model's tokenizer has no chat template")
        return template

    def apply_chat_template(
        self,
        conversation: Sequence[Mapping[str, Any]],
        *,
        tokenize: bool = False,
        add_generation_prompt: bool = False,
        **kwargs: Any,
    ) -> str:
        """transformers' ``apply_chat_template(conversation, tokenize=False, ...)`` for one
        conversation without tools or documents: messages with their None values dropped, the
        named special tokens as variables (``kwargs`` win), rendered in its sandbox."""
        if tokenize:
            raise ConfigError("the planning tokenizer renders text only (tokenize=False)")
        messages = [
            _plain({k: v for k, v in dict(m).items() if v is not None}) for m in conversation
        ]
        messages = [_alias_reasoning(m) for m in messages]
        variables = _plain({**self.special_tokens_map, **kwargs})
        compiled = compile_template(self.get_chat_template())
        return str(
            compiled.render(
                messages=messages,
                tools=None,
                documents=None,
                add_generation_prompt=add_generation_prompt,
                **variables,
            )
        )


_REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")


def _alias_reasoning(message: dict[str, Any]) -> dict[str, Any]:
    """transformers fills ``reasoning_content`` (and ``thinking``) from any of its names."""
    reasoning = next((message[k] for k in _REASONING_FIELDS if message.get(k) is not None), None)
    if reasoning is None:
        return message
    return {"thinking": reasoning, **message, "reasoning_content": reasoning}


def _plain(value: Any) -> Any:
    """Template data rebuilt from plain JSON types, as transformers rebuilds it."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return f"<{type(value).__name__}>"


@lru_cache(maxsize=16)
def compile_template(source: str) -> Any:
    """The template compiled in the environment transformers uses for chat templates:
    an immutable sandbox, trim_blocks, lstrip_blocks, loop controls, its ``tojson`` (no HTML
    escaping), ``raise_exception``, ``strftime_now``, a plain ``dict`` and a guarded
    ``namespace``; ``{% generation %}`` blocks render their body."""
    import jinja2
    import jinja2.ext
    import jinja2.nodes
    import jinja2.utils
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Generation(jinja2.ext.Extension):
        """``{% generation %}…{% endgeneration %}`` (assistant-mask tracking): the body."""

        tags = {"generation"}  # noqa: RUF012 (jinja2 reads it per class)

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
            call = self.call_method("_body")
            return jinja2.nodes.CallBlock(call, [], [], body).set_lineno(lineno)

        def _body(self, caller: Any) -> str:
            return str(caller())

    def raise_exception(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    def tojson(
        x: Any,
        ensure_ascii: bool = False,
        indent: int | None = None,
        separators: Any = None,
        sort_keys: bool = False,
    ) -> str:
        return json.dumps(
            x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
        )

    def strftime_now(fmt: str) -> str:
        return datetime.now().strftime(fmt)

    class TemplateDict:
        def __call__(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
            return dict(*args, **kwargs)

        def fromkeys(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
            return dict.fromkeys(*args, **kwargs)

    class TemplateNamespace(jinja2.utils.Namespace):
        def __init__(*args: Any, **kwargs: Any) -> None:
            self, rest = args[0], args[1:]
            attrs = dict(*rest, **kwargs)
            for name in attrs:
                TemplateNamespace._check(name)
            jinja2.utils.Namespace.__init__(self, attrs)

        def __setitem__(self, name: str, value: Any) -> None:
            TemplateNamespace._check(name)
            jinja2.utils.Namespace.__setitem__(self, name, value)

        @staticmethod
        def _check(name: object) -> None:
            if isinstance(name, str) and name.startswith("_"):
                raise jinja2.exceptions.SecurityError(
                    f"chat templates cannot store underscore-prefixed attributes ({name!r})"
                )

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[Generation, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    env.globals["dict"] = TemplateDict()
    env.globals["namespace"] = TemplateNamespace
    return env.from_string(source)
