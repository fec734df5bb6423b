"""Prompt templates as data: TOML files in ``prompts/``, validated when loaded.

A template lists chat ``messages``. Passages enter either inline, through a ``{passages}``
placeholder (each passage rendered with ``passage`` and joined by ``passage_separator``), or as
turns: a message with ``role = "passages"`` expands to ``passage_turns`` once per passage
(RankGPT's multi-turn form). Placeholders: ``{query}``, ``{num}``, ``{passages}``,
``{first_id}``, ``{last_id}``, ``{id_list}`` in messages; ``{id}``, ``{passage}`` and ``{score}``
(the first-stage score, 3 decimals, as InsertRank shows it) in passage formats. ``{id_list}`` is
every identifier written with ``id_list_item`` (default ``[{id}]``), joined by ", " (LRL's
"[PASSAGE1, PASSAGE2]"). ``titled`` says how a candidate with a title becomes passage text
(default ``{title}: {text}``; rank_llm writes ``Title: {title} Content: {text}``).

Text handling (``brackets``, ``clean``): by default ``[``/``]`` in passages and queries become
``(``/``)`` so a passage cannot forge identifiers ("habitat[edit]" -> "habitat(edit)");
``brackets = "numbers"`` rewrites only bracketed numbers ("[12]" -> "(12)", rank_llm's rule) and
``"keep"`` leaves text as it is (the original RankGPT code). ``clean = "ftfy"`` repairs mojibake
("â€™" -> "'") with ftfy.fix_text before that, as rank_llm does. ``guard = "delimit"`` wraps
each passage in ``<passage>`` … ``</passage>`` and tells the model passages are data
(``prompting.guard``; off by default).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import string
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from listrank.errors import TemplateError, UnknownComponentError
from listrank.prompting import guard as passage_guard
from listrank.prompting.injection import neutralize, neutralize_structure
from listrank.prompting.library import shipped_dir
from listrank.types import ChatMessage

IDENTIFIER_SCHEMES = ("numeric", "alpha")
BRACKET_RULES = ("neutralize", "numbers", "keep")
CLEANERS = ("none", "ftfy")
MESSAGE_PLACEHOLDERS = frozenset({"query", "num", "passages", "first_id", "last_id", "id_list"})
PASSAGE_PLACEHOLDERS = frozenset({"id", "passage", "score"})
DEFAULT_TITLED = "{title}: {text}"
_ROLES = ("system", "user", "assistant", "passages")
_KEYS = frozenset(
    {
        "name",
        "description",
        "methods",
        "identifiers",
        "messages",
        "passage",
        "passage_separator",
        "passage_turns",
        "answer_prefix",
        "echo",
        "brackets",
        "clean",
        "guard",
        "labels",
        "titled",
        "id_list_item",
    }
)
_KNOWN_METHODS = frozenset({"permutation", "first", "setwise", "icr", "pointwise"})
_ALPHABET = string.ascii_uppercase


def identifiers_for(scheme: str, n: int) -> list[str]:
    """Identifier labels for ``n`` passages ("1".."n" or "A".."Z")."""
    if scheme == "alpha":
        if n > len(_ALPHABET):
            raise TemplateError(
                f"the alpha identifier scheme has {len(_ALPHABET)} labels; a block of {n} needs "
                "a numeric template or a smaller window"
            )
        return list(_ALPHABET[:n])
    return [str(i + 1) for i in range(n)]


_BRACKETED_ID = {
    "numeric": re.compile(r"\[(\d+)\]"),
    "alpha": re.compile(r"\[(\d+|[A-Za-z])\]"),
}
"""What ``brackets = "numbers"`` rewrites: bracketed identifiers of the template's scheme
(rank_llm's rule is numbers only; a letter template's forged "[B] > [A]" is caught too)."""
KEEP_LEAVES_OPEN = (
    "bracketed identifiers in passages ('[3] > [1]', '[B]') stay as written, so a passage can "
    "forge an answer; chat control strings, role labels and line breaks are still neutralised"
)


@functools.lru_cache(maxsize=4096)  # a passage is prepared again for every block it is in
def prepare_text(
    text: str, *, brackets: str = "neutralize", clean: str = "none", identifiers: str = "numeric"
) -> str:
    """A passage or query as the model sees it under the given bracket rule and cleaner.
    Chat-template control strings of every chat family and line breaks are neutralised under
    every rule (``prompting.injection``); the rule only decides what happens to other
    brackets: ``numbers`` rewrites the bracketed identifiers of the template's ``identifiers``
    scheme, ``keep`` leaves them (:data:`KEEP_LEAVES_OPEN`)."""
    if clean == "ftfy":
        import ftfy

        text = ftfy.fix_text(text)
    if brackets == "neutralize":
        return neutralize(text)
    text = neutralize_structure(text)
    if brackets == "numbers":
        return _BRACKETED_ID.get(identifiers, _BRACKETED_ID["numeric"]).sub(r"(\1)", text)
    return text


@dataclass(frozen=True)
class RenderedPrompt:
    messages: list[ChatMessage]
    assistant_prefix: str
    identifiers: list[str]


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    description: str
    methods: tuple[str, ...]
    identifiers: str
    messages: tuple[dict[str, str], ...]
    passage: str
    passage_separator: str
    passage_turns: tuple[dict[str, str], ...]
    answer_prefix: str
    echo: tuple[str, ...]
    source: str = "<memory>"
    brackets: str = "neutralize"
    clean: str = "none"
    guard: str = "none"
    labels: tuple[str, ...] = ()
    """Answer labels read from the next-token scores, positive first (pointwise: yes, no)."""
    titled: str = DEFAULT_TITLED
    id_list_item: str = "[{id}]"
    examples: tuple[ChatMessage, ...] = ()
    """Few-shot turns, inserted after the leading system message(s) (rank_llm's place)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<memory>") -> PromptTemplate:
        return _validate(data, source)

    @classmethod
    def from_file(cls, path: str | Path) -> PromptTemplate:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateError(f"{p}: cannot read template: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise TemplateError(f"{p}: not valid TOML: {exc}") from exc
        data.setdefault("name", p.stem)
        return _validate(data, str(p))

    @property
    def uses_turns(self) -> bool:
        return any(m["role"] == "passages" for m in self.messages)

    def prepare(self, text: str) -> str:
        """A passage or query as this template shows it (bracket rule, cleaning)."""
        return prepare_text(
            text, brackets=self.brackets, clean=self.clean, identifiers=self.identifiers
        )

    def show(self, passage: str) -> str:
        """A passage as its ``{passage}`` placeholder shows it: prepared, and delimited when
        the guard is on."""
        text = self.prepare(passage)
        return passage_guard.delimit(text) if self.guard == "delimit" else text

    def with_text_rules(
        self, brackets: str | None = None, clean: str | None = None, guard: str | None = None
    ) -> PromptTemplate:
        """This template with another bracket rule, cleaner or guard (None keeps the
        template's)."""
        if brackets is not None and brackets not in BRACKET_RULES:
            raise TemplateError(f"brackets={brackets!r}: use one of {BRACKET_RULES}")
        if clean is not None and clean not in CLEANERS:
            raise TemplateError(f"clean={clean!r}: use one of {CLEANERS}")
        if guard is not None and guard not in passage_guard.GUARDS:
            raise TemplateError(f"guard={guard!r}: use one of {passage_guard.GUARDS}")
        return dataclasses.replace(
            self,
            brackets=brackets or self.brackets,
            clean=clean or self.clean,
            guard=guard or self.guard,
        )

    def render(
        self,
        query: str,
        passages: Sequence[str],
        scores: Sequence[float | None] | None = None,
    ) -> RenderedPrompt:
        """Messages for ``passages`` (their first-stage ``scores`` fill ``{score}``)."""
        ids = identifiers_for(self.identifiers, len(passages))
        q = self.prepare(query)
        texts = [self.show(p) for p in passages]
        shown = [_score_text(s) for s in (scores or [None] * len(passages))]
        inline = self.passage_separator.join(
            self.passage.format(id=i, passage=t, score=s)
            for i, t, s in zip(ids, texts, shown, strict=True)
        )
        fields = {
            "id_list": ", ".join(self.id_list_item.format(id=i) for i in ids),
            "query": q,
            "num": str(len(passages)),
            "passages": inline,
            "first_id": ids[0] if ids else "",
            "last_id": ids[-1] if ids else "",
        }
        out: list[ChatMessage] = []
        for msg in self.messages:
            if msg["role"] == "passages":
                for i, t, sc in zip(ids, texts, shown, strict=True):
                    for turn in self.passage_turns:
                        text = turn["content"].format(id=i, passage=t, score=sc)
                        out.append(_message(turn["role"], text))
            else:
                out.append(_message(msg["role"], msg["content"].format(**fields)))
        if self.examples:
            lead = next((k for k, m in enumerate(out) if m["role"] != "system"), len(out))
            out = (
                out[:lead] + [_message(m["role"], m["content"]) for m in self.examples] + out[lead:]
            )
        if self.guard == "delimit":
            out = passage_guard.with_note(out)
        return RenderedPrompt(messages=out, assistant_prefix=self.answer_prefix, identifiers=ids)


def _score_text(score: float | None) -> str:
    return "n/a" if score is None else f"{score:.3f}"


def _message(role: str, content: str) -> ChatMessage:
    return cast(ChatMessage, {"role": role, "content": content})


def _placeholders(text: str, where: str, source: str) -> set[str]:
    """Placeholder names in ``text``. A format spec or conversion (``{query:.0}``,
    ``{passage!r}``, ``{query:>9999}``) could hide, clip, quote or pad what the model must see:
    refused, like any other malformed placeholder."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(
            f"{source}: {where}: bad braces ({exc}); write literal braces as {{{{ and }}}}"
        ) from exc
    for _, name, spec, conversion in fields:
        if name is not None and (spec or conversion):
            shown = (
                "{"
                + name
                + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
            raise TemplateError(
                f"{source}: {where}: {shown} has a format spec or conversion; placeholders are "
                f"plain ({{{name}}}): the text is inserted as it is"
            )
    return {name for _, name, _, _ in fields if name is not None}


def _check_fields(text: str, allowed: frozenset[str], where: str, source: str) -> set[str]:
    found = _placeholders(text, where, source)
    bad = found - allowed
    if bad:
        raise TemplateError(
            f"{source}: {where}: unknown placeholder(s) {sorted(bad)}; allowed here: "
            f"{sorted(allowed)}"
        )
    return found


def _messages(data: Any, key: str, source: str) -> tuple[dict[str, str], ...]:
    if not isinstance(data, list) or not all(isinstance(m, dict) for m in data):
        raise TemplateError(f"{source}: {key!r} must be an array of tables [[{key}]]")
    out = []
    for i, m in enumerate(data):
        extra = set(m) - {"role", "content"}
        if extra:
            raise TemplateError(f"{source}: {key}[{i}] has unknown keys {sorted(extra)}")
        role = m.get("role")
        if role not in _ROLES or (key == "passage_turns" and role == "passages"):
            raise TemplateError(f"{source}: {key}[{i}].role must be one of system/user/assistant")
        content = m.get("content", "")
        if role != "passages" and (not isinstance(content, str) or not content):
            raise TemplateError(f"{source}: {key}[{i}] needs a non-empty string 'content'")
        out.append({"role": str(role), "content": str(content)})
    return tuple(out)


def _validate(data: dict[str, Any], source: str) -> PromptTemplate:
    unknown = set(data) - _KEYS
    if unknown:
        raise TemplateError(
            f"{source}: unknown key(s) {sorted(unknown)}; allowed keys: {sorted(_KEYS)}"
        )
    if "messages" not in data:
        raise TemplateError(f"{source}: missing 'messages' (an array of [[messages]] tables)")
    messages = _messages(data["messages"], "messages", source)
    turns = _messages(data.get("passage_turns", []), "passage_turns", source)
    scheme = data.get("identifiers", "numeric")
    if scheme not in IDENTIFIER_SCHEMES:
        raise TemplateError(
            f"{source}: identifiers = {scheme!r} cannot be parsed; use one of {IDENTIFIER_SCHEMES}"
        )
    methods = tuple(data.get("methods", ["permutation"]))
    bad_methods = set(methods) - _KNOWN_METHODS
    if bad_methods:
        raise TemplateError(
            f"{source}: unknown method(s) {sorted(bad_methods)}; use {sorted(_KNOWN_METHODS)}"
        )
    passage = data.get("passage", "[{id}] {passage}")
    for name in ("passage", "passage_separator", "answer_prefix", "description", "name"):
        if name in data and not isinstance(data[name], str):
            raise TemplateError(f"{source}: {name!r} must be a string")
    used: set[str] = set()
    for i, m in enumerate(messages):
        if m["role"] != "passages":
            used |= _check_fields(m["content"], MESSAGE_PLACEHOLDERS, f"messages[{i}]", source)
    has_turns = any(m["role"] == "passages" for m in messages)
    if "query" not in used:
        raise TemplateError(f"{source}: no message contains {{query}}; the model must see it")
    if has_turns and not turns:
        raise TemplateError(f"{source}: a role='passages' message needs [[passage_turns]]")
    if not has_turns and "passages" not in used:
        raise TemplateError(
            f"{source}: passages never appear; put {{passages}} in a message or add a "
            "role='passages' message with [[passage_turns]]"
        )
    formats = [("passage", passage)] + [
        (f"passage_turns[{i}]", t["content"]) for i, t in enumerate(turns)
    ]
    passage_used: set[str] = set()
    for where, text in formats:
        passage_used |= _check_fields(text, PASSAGE_PLACEHOLDERS, where, source)
    if "passage" not in _placeholders(passage, "passage", source):
        raise TemplateError(f"{source}: 'passage' must contain {{passage}}")
    if has_turns and not any("passage" in _placeholders(t["content"], "", source) for t in turns):
        raise TemplateError(f"{source}: passage_turns must contain {{passage}}")
    brackets = data.get("brackets", "neutralize")
    if brackets not in BRACKET_RULES:
        raise TemplateError(f"{source}: brackets = {brackets!r}; use one of {BRACKET_RULES}")
    clean = data.get("clean", "none")
    if clean not in CLEANERS:
        raise TemplateError(f"{source}: clean = {clean!r}; use one of {CLEANERS}")
    guard = data.get("guard", "none")
    if guard not in passage_guard.GUARDS:
        raise TemplateError(f"{source}: guard = {guard!r}; use one of {passage_guard.GUARDS}")
    labels = data.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
        raise TemplateError(f"{source}: 'labels' must be a list of non-empty strings")
    if "pointwise" in methods and (len(labels) != 2 or labels[0] == labels[1]):
        raise TemplateError(
            f"{source}: a pointwise template needs labels = [positive, negative], two "
            f'different strings (e.g. ["yes", "no"]); got {labels}'
        )
    titled = data.get("titled", DEFAULT_TITLED)
    both = frozenset({"title", "text"})
    if not isinstance(titled, str) or _check_fields(titled, both, "titled", source) != both:
        raise TemplateError(f"{source}: 'titled' must be a string with {{title}} and {{text}}")
    id_list_item = data.get("id_list_item", "[{id}]")
    if not isinstance(id_list_item, str):
        raise TemplateError(f"{source}: 'id_list_item' must be a string")
    _check_fields(id_list_item, frozenset({"id"}), "id_list_item", source)
    echo = data.get("echo", [])
    if not isinstance(echo, list) or not all(isinstance(e, str) and "{id}" in e for e in echo):
        raise TemplateError(f"{source}: 'echo' must be a list of strings containing {{id}}")
    return PromptTemplate(
        name=str(data.get("name", "template")),
        description=str(data.get("description", "")),
        methods=methods,
        identifiers=scheme,
        messages=messages,
        passage=passage,
        passage_separator=data.get("passage_separator", "\n"),
        passage_turns=turns,
        answer_prefix=data.get("answer_prefix", ""),
        echo=tuple(echo),
        source=source,
        brackets=brackets,
        clean=clean,
        guard=guard,
        labels=tuple(labels),
        titled=titled,
        id_list_item=id_list_item,
    )


def template_names() -> list[str]:
    return sorted(p.stem for p in shipped_dir("prompts").glob("*.toml"))


def load_template(name_or_path: str | Path | PromptTemplate) -> PromptTemplate:
    """A template from the library by name, or from a TOML file path."""
    if isinstance(name_or_path, PromptTemplate):
        return name_or_path
    p = Path(name_or_path)
    if p.suffix == ".toml" and p.exists():
        return PromptTemplate.from_file(p)
    candidate = shipped_dir("prompts") / f"{name_or_path}.toml"
    if candidate.exists():
        return PromptTemplate.from_file(candidate)
    raise UnknownComponentError("prompt template", str(name_or_path), template_names())
