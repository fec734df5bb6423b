"""Components by explicit name. Built-ins register the same way third parties do (entry points
in the groups ``listrank.backends``, ``listrank.methods``, ``listrank.strategies``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from listrank.errors import ConfigError, UnknownComponentError


@dataclass(frozen=True)
class Entry:
    name: str
    target: str
    """"module:attribute" of the factory (a class or function), imported on first use."""

    def load(self) -> Callable[..., Any]:
        module, _, attr = self.target.partition(":")
        factory: Callable[..., Any] = getattr(import_module(module), attr)
        return factory

    def options(self) -> set[str]:
        """Keyword options the factory accepts (besides the layer below it)."""
        params = inspect.signature(self.load()).parameters.values()
        return {p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}


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
    },
    "strategy": {
        "single": "listrank.strategies.window:SingleWindow",
        "sliding": "listrank.strategies.window:SlidingWindow",
        "tournament": "listrank.strategies.tournament:Tournament",
        "tourrank": "listrank.strategies.tourrank:TourRank",
        "jointrank": "listrank.strategies.jointrank:JointRank",
        "setwise": "listrank.strategies.setwise:Setwise",
        "tdpart": "listrank.strategies.tdpart:TDPart",
    },
}
_GROUPS = {
    "backend": "listrank.backends",
    "method": "listrank.methods",
    "strategy": "listrank.strategies",
}


def _entries(kind: str) -> dict[str, Entry]:
    out = {name: Entry(name, target) for name, target in _BUILTIN[kind].items()}
    for ep in entry_points(group=_GROUPS[kind]):
        out.setdefault(ep.name, Entry(ep.name, ep.value))
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
