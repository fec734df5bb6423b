"""Option values checked against the annotations of the component that takes them, so a value
of the wrong type (``-O window=abc``) is one ConfigError naming the option instead of a
TypeError deep inside a constructor."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from listrank.errors import ConfigError

_SIMPLE = (bool, int, float, str)


def _simple_types(annotation: Any) -> tuple[type, ...] | None:
    """The plain types an annotation allows (None included), or None when it is not plain."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        parts: list[type] = []
        for arg in args:
            inner = _simple_types(arg)
            if inner is None:
                return None
            parts.extend(inner)
        return tuple(parts)
    if annotation is type(None) or annotation is None:
        return (type(None),)
    if annotation in _SIMPLE:
        return (annotation,)
    return None


def _accepts(allowed: tuple[type, ...], value: Any) -> bool:
    if value is None:
        return type(None) in allowed
    if isinstance(value, bool):
        return bool in allowed
    if isinstance(value, int):
        return int in allowed or float in allowed
    return isinstance(value, tuple(t for t in allowed if t not in (bool, int)))


def check_option_types(factory: Callable[..., Any], options: Mapping[str, Any], what: str) -> None:
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return
    scope = getattr(inspect.getmodule(target), "__dict__", {})
    for key, value in options.items():
        param = params.get(key)
        if param is None:
            continue
        annotation = param.annotation
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, dict(scope))
            except Exception:  # one that does not resolve here: the factory checks it
                continue
        allowed = _simple_types(annotation)
        if allowed is None or _accepts(allowed, value):
            continue
        names = " or ".join(
            sorted({t.__name__ if t is not type(None) else "null" for t in allowed})
        )
        raise ConfigError(f"option {key}={value!r} of the {what} must be {names}")
