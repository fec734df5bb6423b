"""Declared options: every backend, method and strategy (and the Reranker itself) states the
options it takes once, as data, in a class attribute ``OPTIONS``:

    OPTIONS = (
        Option("window", int, 20, "candidates per window", changes_answers=True, ge=2),
        Option("step", int | None, None, "shift between windows (default: window // 2)",
               changes_answers=True, ge=1),
    )

From that one tuple the pipeline routes options to their layer, checks their values (one
validator, :meth:`Option.check`), builds the call cache's key (the answer-changing ones), and
prints ``listrank config show`` and the documentation's configuration table. Nothing is read
off a constructor's signature or annotations; a test holds every declaration equal to its
constructor's keyword options and defaults.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from listrank.errors import ConfigError

_NO_EXAMPLE: Any = object()


def _flatten(spec: Any) -> tuple[Any, ...]:
    """``int | None`` -> (int, NoneType); a tuple of types stays as it is."""
    if isinstance(spec, tuple):
        return tuple(t for s in spec for t in _flatten(s))
    if isinstance(spec, types.UnionType) or typing.get_origin(spec) is typing.Union:
        return tuple(t for a in typing.get_args(spec) for t in _flatten(a))
    if spec is None:
        return (type(None),)
    return (spec,)


@dataclass(frozen=True)
class Option:
    """One option: its name, accepted types, default, one-line help, and whether a different
    value can change a model's answer to the same prompt (then it is part of the call cache's
    key). ``choices``, ``ge`` and ``le`` bound the value; ``example`` is a valid non-default
    value (the documentation and the generated cache-identity tests use it); ``internal``
    options take ready Python objects and are never offered in messages or files."""

    name: str
    type: Any
    default: Any
    help: str
    changes_answers: bool
    choices: tuple[Any, ...] = ()
    ge: float | None = None
    le: float | None = None
    example: Any = field(default=_NO_EXAMPLE, compare=False)
    internal: bool = False

    @property
    def types(self) -> tuple[type, ...]:
        return _flatten(self.type)

    @property
    def type_name(self) -> str:
        names = [("None" if t is type(None) else t.__name__) for t in self.types]
        return " or ".join(dict.fromkeys(names))

    def accepts_type(self, value: Any) -> bool:
        allowed = self.types
        if object in allowed:  # a ready Python object: its consumer checks it
            return True
        if value is None:
            return type(None) in allowed
        if isinstance(value, bool):  # True is not an integer option's value
            return bool in allowed
        if isinstance(value, int) and float in allowed:
            return True
        return isinstance(value, tuple(t for t in allowed if t is not type(None)))

    def check(self, value: Any, owner: str) -> None:
        """A ConfigError naming the option and its owner ("strategy sliding", "the reranker")
        unless ``value`` has a declared type and lies within the declared bounds."""
        if not self.accepts_type(value):
            raise ConfigError(
                f"option {self.name!r} of {owner} must be {self.type_name}; "
                f"got {type(value).__name__} {value!r}"
            )
        if value is None:
            return
        if self.choices and value not in self.choices:
            raise ConfigError(
                f"unknown {self.name} {value!r} for {owner}; choose one of: "
                + ", ".join(str(c) for c in self.choices)
            )
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if numeric and self.ge is not None and value < self.ge:
            raise ConfigError(
                f"option {self.name!r} of {owner} must be >= {self.ge:g}; got {value}"
            )
        if numeric and self.le is not None and value > self.le:
            raise ConfigError(
                f"option {self.name!r} of {owner} must be <= {self.le:g}; got {value}"
            )

    def sample(self) -> Any:
        """A valid value other than the default (``example`` when declared): what the
        generated tests set to see that the option really reaches its component."""
        if self.example is not _NO_EXAMPLE:
            return self.example
        for choice in self.choices:
            if choice != self.default:
                return choice
        if isinstance(self.default, bool):
            return not self.default
        if isinstance(self.default, int) and not isinstance(self.default, bool):
            return self.default + 1
        if isinstance(self.default, float):
            return self.default + 0.25
        raise ConfigError(f"option {self.name!r} declares no example value")

    def bounds(self) -> str:
        """The allowed values in words (the configuration table)."""
        if self.choices:
            return "one of " + ", ".join(str(c) for c in self.choices)
        parts = []
        if self.ge is not None:
            parts.append(f">= {self.ge:g}")
        if self.le is not None:
            parts.append(f"<= {self.le:g}")
        return ", ".join(parts)


Options = tuple[Option, ...]


def declared(component: Any) -> Options:
    """The options a component class (or factory function) declares; none when it declares
    nothing (a component is never read for options it did not declare)."""
    found = getattr(component, "OPTIONS", ())
    if not isinstance(found, tuple) or not all(isinstance(o, Option) for o in found):
        raise ConfigError(f"{component!r}: OPTIONS must be a tuple of listrank.options.Option")
    return found


def by_name(options: Iterable[Option]) -> dict[str, Option]:
    return {o.name: o for o in options}


def public(options: Iterable[Option]) -> list[Option]:
    return [o for o in options if not o.internal]


def check_all(options: Iterable[Option], values: Mapping[str, Any], owner: str) -> None:
    """Check each given value against its declaration (values without one are not checked
    here: routing has already refused them)."""
    table = by_name(options)
    for key, value in values.items():
        if key in table:
            table[key].check(value, owner)


def bind(options: Iterable[Option], given: Mapping[str, Any]) -> dict[str, Any]:
    """Option -> value in effect: ``given`` (e.g. a constructor's ``locals()``) over the
    declared defaults, internal options left out."""
    return {o.name: given.get(o.name, o.default) for o in options if not o.internal}


def answer_changing(options: Iterable[Option], values: Mapping[str, Any]) -> dict[str, Any]:
    """The values of the declared answer-changing options (the call cache's key)."""
    return {o.name: values.get(o.name, o.default) for o in options if o.changes_answers}
