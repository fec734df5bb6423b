"""Declared options (listrank.options): every component states its options once, routing and
validation read only the declarations, and a section's option reaches only its own component."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from listrank import Reranker, registry
from listrank.backends.fake import FakeBackend
from listrank.errors import ConfigError
from listrank.options import Option, declared
from listrank.pipeline.reranker import RERANKER_OPTIONS

COMPONENTS = [
    (kind, name) for kind in ("backend", "method", "strategy") for name in registry.names(kind)
]


def keyword_options(factory: Any) -> dict[str, Any]:
    target = factory.__init__ if inspect.isclass(factory) else factory
    params = inspect.signature(target).parameters.values()
    return {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}


@pytest.mark.parametrize(("kind", "name"), COMPONENTS, ids=lambda x: str(x))
def test_every_component_declares_exactly_its_constructor_options(kind: str, name: str) -> None:
    factory = registry.get(kind, name).load()
    options = declared(factory)
    assert {o.name: o.default for o in options} == keyword_options(factory)
    for option in options:
        assert option.help and isinstance(option.changes_answers, bool)
        assert option.accepts_type(option.default), option
        if not option.internal:  # the documentation and generated tests need a valid value
            sample = option.sample()
            assert sample != option.default
            option.check(sample, f"{kind} {name}")


def test_the_reranker_declares_exactly_its_own_options() -> None:
    assert {o.name: o.default for o in RERANKER_OPTIONS} == keyword_options(Reranker)


def test_one_validator_types_bounds_and_choices() -> None:
    window = Option("window", int, 20, "w", changes_answers=True, ge=2)
    window.check(3, "strategy s")
    with pytest.raises(ConfigError, match="option 'window' of strategy s must be int; got str"):
        window.check("3", "strategy s")
    with pytest.raises(ConfigError, match="must be int; got bool True"):
        window.check(True, "strategy s")  # a bool is not an integer option's value
    with pytest.raises(ConfigError, match="must be >= 2; got 1"):
        window.check(1, "strategy s")
    weight = Option("w", float | None, None, "w", changes_answers=True, le=1.0)
    weight.check(1, "x")  # an int where a float is declared is fine
    weight.check(None, "x")
    with pytest.raises(ConfigError, match="must be <= 1"):
        weight.check(1.5, "x")
    design = Option("design", str, "a", "d", changes_answers=True, choices=("a", "b"))
    with pytest.raises(ConfigError, match=r"unknown design 'c'.*choose one of: a, b"):
        design.check("c", "strategy j")


def test_declared_bounds_reach_python_callers_too() -> None:
    with pytest.raises(ConfigError, match="unknown design 'nope' for strategy jointrank"):
        Reranker(backend=FakeBackend(), strategy="jointrank", design="nope")


def test_an_undeclared_component_takes_no_options() -> None:
    class Bare(FakeBackend):
        OPTIONS = ()

        def __init__(self, model: str | None = None, *, secret: int = 0) -> None:
            super().__init__()

    registry.register("backend", "bare-test", f"{__name__}:_BARE")
    globals()["_BARE"] = Bare
    try:
        with pytest.raises(ConfigError, match="unknown option 'secret'"):
            Reranker(backend="bare-test", secret=1)
    finally:
        registry._BUILTIN["backend"].pop("bare-test")
