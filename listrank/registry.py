"""Components by explicit name. Built-ins register the same way third parties do (entry points
in the groups ``listrank.backends``, ``listrank.methods``, ``listrank.strategies``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from listrank.errors import ConfigError, UnknownComponentError, did_you_mean
from listrank.options import Options, by_name, declared, public


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

    def declared(self) -> Options:
        """The options the component declares (``OPTIONS``; see ``listrank.options``)."""
        return declared(self.load())

    def options(self) -> set[str]:
        """Keyword options the factory takes (besides the layer below it)."""
        return {o.name for o in self.declared()}

    def public_options(self) -> list[str]:
        return sorted(o.name for o in public(self.declared()))

    def defaults(self) -> dict[str, Any]:
        """Option -> default value, for the documented (non-internal) options."""
        return {o.name: o.default for o in public(self.declared())}

    def check_option(self, key: str, value: Any) -> None:
        """The same typed ConfigError for ``window="20"`` from Python as from a TOML file."""
        option = by_name(self.declared()).get(key)
        if option is not None:
            option.check(value, f"{self.kind} {self.name}")


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


@cache
def _installed(group: str) -> tuple[tuple[str, str], ...]:
    """(name, target) of the entry points in ``group``, read once per process: each read
    scans every installed distribution (tens of milliseconds; the CLI asks dozens of times)."""
    return tuple((ep.name, ep.value) for ep in entry_points(group=group))


def _entries(kind: str) -> dict[str, Entry]:
    out = {name: Entry(name, target, kind) for name, target in _BUILTIN[kind].items()}
    for name, target in _installed(_GROUPS[kind]):
        out.setdefault(name, Entry(name, target, kind))
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


def owners(option: str) -> list[str]:
    """Every registered component ("strategy tdpart", …) that accepts ``option``."""
    found = []
    for kind in _BUILTIN:
        for name, entry in sorted(_entries(kind).items()):
            try:
                if option in entry.public_options():
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
