"""Components by explicit name. Built-ins register the same way third parties do (entry points
in the groups ``listrank.backends``, ``listrank.methods``, ``listrank.strategies``)."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from listrank.errors import ConfigError, UnknownComponentError, did_you_mean

INTERNAL_OPTIONS = frozenset({"model_obj", "tokenizer"})
"""Options for ready Python objects: accepted, never offered in messages or the config schema."""


@dataclass(frozen=True)
class Entry:
    name: str
    target: str
    """"module:attribute" of the factory (a class or function), imported on first use."""
    kind: str = ""

    def load(self) -> Callable[..., Any]:
        module, _, attr = self.target.partition(":")
        factory: Callable[..., Any] = getattr(import_module(module), attr)
        return factory

    def options(self) -> set[str]:
        """Keyword options the factory accepts (besides the layer below it)."""
        params = inspect.signature(self.load()).parameters.values()
        return {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}

    def public_options(self) -> list[str]:
        return sorted(self.options() - INTERNAL_OPTIONS)

    def option_types(self) -> dict[str, Any]:
        """Option -> its annotation, for those that resolve (others are not checked)."""
        factory = self.load()
        target = factory.__init__ if inspect.isclass(factory) else factory
        try:
            hints = typing.get_type_hints(target)
        except Exception:  # an annotation names a type only imported for type checkers
            hints = {}
        return {k: v for k, v in hints.items() if k in self.options()}

    def defaults(self) -> dict[str, Any]:
        """Option -> default value, for the documented (non-internal) options."""
        params = inspect.signature(self.load()).parameters.values()
        return {
            p.name: p.default
            for p in params
            if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in INTERNAL_OPTIONS
        }

    def check_option(self, key: str, value: Any) -> None:
        """The same typed ConfigError for ``window="20"`` from Python as from a TOML file."""
        hint = self.option_types().get(key)
        if hint is not None and not value_fits(hint, value):
            raise ConfigError(
                f"option {key!r} of {self.kind} {self.name} must be {type_name(hint)}; "
                f"got {type(value).__name__} {value!r}"
            )


_BUILTIN: dict[str, dict[str, str]] = {
    "backend": {
        "hf": "listrank.backends.hf:HFBackend",
        "fake": "listrank.backends.fake:FakeBackend",
        "openai": "listrank.backends.openai:OpenAIBackend",
        "vllm": "listrank.backends.vllm:VLLMBackend",
    },
    "method": {
        "rankgpt": "listrank.methods.permutation:PermutationMethod",
        "first": "listrank.methods.first:FirstMethod",
        "icr": "listrank.methods.icr:ICRMethod",
        "setwise": "listrank.methods.setwise:SetwiseMethod",
        "pointwise": "listrank.methods.pointwise:PointwiseMethod",
    },
    "strategy": {
        "single": "listrank.strategies.window:SingleWindow",
        "sliding": "listrank.strategies.window:SlidingWindow",
        "tournament": "listrank.strategies.tournament:Tournament",
        "tourrank": "listrank.strategies.tourrank:TourRank",
        "jointrank": "listrank.strategies.jointrank:JointRank",
        "setwise": "listrank.strategies.setwise:Setwise",
        "tdpart": "listrank.strategies.tdpart:TDPart",
        "pointwise": "listrank.strategies.pointwise:Pointwise",
        "adaptive": "listrank.strategies.adaptive:Adaptive",
    },
}
_GROUPS = {
    "backend": "listrank.backends",
    "method": "listrank.methods",
    "strategy": "listrank.strategies",
}


def _entries(kind: str) -> dict[str, Entry]:
    out = {name: Entry(name, target, kind) for name, target in _BUILTIN[kind].items()}
    for ep in entry_points(group=_GROUPS[kind]):
        out.setdefault(ep.name, Entry(ep.name, ep.value, kind))
    return out


def names(kind: str) -> list[str]:
    return sorted(_entries(kind))


def get(kind: str, name: str) -> Entry:
    entries = _entries(kind)
    if name not in entries:
        raise UnknownComponentError(kind, name, list(entries))
    return entries[name]


def register(kind: str, name: str, target: str) -> None:
    """Register a component in-process ("module:attribute")."""
    if kind not in _BUILTIN:
        raise ConfigError(f"unknown component kind {kind!r}")
    _BUILTIN[kind][name] = target


def value_fits(hint: Any, value: Any) -> bool:
    """Whether ``value`` matches a simple annotation; anything more complex is let through."""
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(value_fits(arg, value) for arg in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    return True


def type_name(hint: Any) -> str:
    if hint is type(None):
        return "None"
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return " or ".join(type_name(a) for a in typing.get_args(hint))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    return getattr(hint, "__name__", str(hint))


def owners(option: str) -> list[str]:
    """Every registered component ("strategy tdpart", …) that accepts ``option``."""
    found = []
    for kind in _BUILTIN:
        for name, entry in sorted(_entries(kind).items()):
            try:
                if option in entry.options() - INTERNAL_OPTIONS:
                    found.append(f"{kind} {name}")
            except Exception:  # a third-party component that fails to import owns nothing here
                continue
    return found


def unknown_option_message(
    key: str, entries: Mapping[str, Entry | None], own: Iterable[str] = ()
) -> str:
    """Names the layer that owns ``key`` when another component does, else the closest name."""
    here = sorted(
        set().union(*(e.public_options() for e in entries.values() if e is not None))
        | (set(own) - {"prefilter", "cache"})
    )
    using = ", ".join(f"{e.kind} {e.name}" for e in entries.values() if e is not None)
    elsewhere = owners(key)
    if elsewhere:
        switch = " or ".join(f"--{o.split()[0]} {o.split()[1]}" for o in elsewhere[:3])
        return (
            f"option {key!r} belongs to {', '.join(elsewhere)}, not to this pipeline "
            f"({using}); switch with {switch}, or drop it"
        )
    every = set(here).union(*(owners_all()))
    return f"unknown option {key!r}{did_you_mean(key, every)}; options here: {', '.join(here)}"


def owners_all() -> list[set[str]]:
    """The public options of every registered component."""
    out = []
    for kind in _BUILTIN:
        for entry in _entries(kind).values():
            try:
                out.append(set(entry.public_options()))
            except Exception:
                continue
    return out
