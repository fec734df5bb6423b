"""A whole pipeline as plain data (TOML), so the CLI, the API, the A/B harness, the service and
batch workers all build the identical thing from one file.

    [backend]            # name + that backend's options
    name = "hf"
    model = "path/or/hub-name"   # optional; default: the embedded model
    [method]
    name = "rankgpt"
    template = "rankgpt"
    [strategy]
    name = "sliding"
    window = 20
    step = 10

Every section is optional (defaults: hf / sliding, and icr on the embedded model or rankgpt
on a named one). Unknown sections or options are
errors that name the file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from listrank.errors import ConfigError
from listrank.options import check_all
from listrank.pipeline.fusion import Fusion
from listrank.pipeline.llm_prefilter import LLMPrefilter, llm_prefilter
from listrank.pipeline.prefilter import Prefilter, build_prefilter
from listrank.pipeline.reranker import (
    DEFAULT_BACKEND,
    DEFAULT_STRATEGY,
    RERANKER_OPTIONS,
    Reranker,
    default_method,
    qualified,
)
from listrank.prompting.presets import load_preset

LAYERS = ("backend", "method", "strategy")
AUTO_METHOD = ""
"""[method] without a name: the default for the backend and model (reranker.default_method)."""
DEFAULT_SOURCE = "<defaults>"
EXTRA_SECTIONS: set[str] = {"fusion"}
"""Further sections that later pipeline stages register (e.g. "prefilter")."""
EXTRA_SECTIONS.update({"prefilter", "cache"})
"""[prefilter]: type, model, k, batch_size, device (listrank.pipeline.prefilter.build_prefilter);
[cache]: path of the persistent call cache (listrank.backends.cache)."""


@dataclass(frozen=True)
class ComponentSpec:
    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineConfig:
    backend: ComponentSpec = ComponentSpec(DEFAULT_BACKEND)
    model: str | None = None
    method: ComponentSpec = ComponentSpec(AUTO_METHOD)
    strategy: ComponentSpec = ComponentSpec(DEFAULT_STRATEGY)
    extra: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str = DEFAULT_SOURCE
    method_by_default: bool = False
    """True when no method was named: it follows the backend and model (ICR on the embedded
    model, RankGPT on a named one) through every override."""

    def __post_init__(self) -> None:
        if self.method.name == AUTO_METHOD or self.method_by_default:
            name = default_method(self.backend.name, self.model)
            object.__setattr__(self, "method", ComponentSpec(name, self.method.options))
            object.__setattr__(self, "method_by_default", True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<memory>") -> PipelineConfig:
        unknown = set(data) - set(LAYERS) - EXTRA_SECTIONS
        if unknown:
            allowed = sorted(set(LAYERS) | EXTRA_SECTIONS)
            raise ConfigError(f"{source}: unknown section(s) {sorted(unknown)}; allowed: {allowed}")
        specs: dict[str, ComponentSpec] = {}
        model = None
        for layer in LAYERS:
            section = data.get(layer, {})
            if not isinstance(section, Mapping):
                raise ConfigError(f"{source}: [{layer}] must be a table")
            options = dict(section)
            default = {
                "backend": DEFAULT_BACKEND,
                "method": AUTO_METHOD,
                "strategy": DEFAULT_STRATEGY,
            }[layer]
            name = options.pop("name", default)
            if not isinstance(name, str):
                raise ConfigError(f"{source}: [{layer}].name must be a string")
            if layer == "backend":
                model = options.pop("model", None)
            specs[layer] = ComponentSpec(name, options)
        extra = {k: dict(v) for k, v in data.items() if k in EXTRA_SECTIONS}
        return cls(
            backend=specs["backend"],
            model=model,
            method=specs["method"],
            strategy=specs["strategy"],
            extra=extra,
            source=source,
        )

    @classmethod
    def from_preset(cls, name: str) -> PipelineConfig:
        """The preset's method and strategy (``listrank presets show NAME``)."""
        preset = load_preset(name)
        return cls.from_dict(preset.pipeline(), f"preset {preset.name}")

    @classmethod
    def from_file(cls, path: str | Path) -> PipelineConfig:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read pipeline config {p}: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML: {exc}") from exc
        return cls.from_dict(data, str(p))

    def with_overrides(
        self,
        *,
        backend: str | None = None,
        model: str | None = None,
        method: str | None = None,
        strategy: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> PipelineConfig:
        """Command-line flags win over the file. Loose ``options`` are routed by Reranker."""
        cfg = self
        # a different component name drops the file's options: they belonged to the old one
        if backend is not None and backend != cfg.backend.name:
            cfg = replace(cfg, backend=ComponentSpec(backend))
        if method is not None:  # named now: it no longer follows the model
            spec = cfg.method if method == cfg.method.name else ComponentSpec(method)
            cfg = replace(cfg, method=spec, method_by_default=False)
        if strategy is not None and strategy != cfg.strategy.name:
            cfg = replace(cfg, strategy=ComponentSpec(strategy))
        if model is not None:
            cfg = replace(cfg, model=model)
        if options:
            cfg = replace(cfg, extra={**cfg.extra, "_loose": dict(options)})
        return cfg

    def options(self) -> dict[str, Any]:
        """Every component option in effect, command-line ones winning."""
        loose = dict(self.extra.get("_loose", {}))
        return {**self.backend.options, **self.method.options, **self.strategy.options, **loose}

    def reranker_options(self) -> dict[str, Any]:
        """The keyword options for ``Reranker``: a section's option qualified by its layer
        (``strategy_seed``), so it reaches only that section's component; the Reranker's own
        options (any section) and command-line ones as they are (routed by the Reranker)."""
        sections = {layer: getattr(self, layer).options for layer in LAYERS}
        return {**qualified(sections), **self.extra.get("_loose", {})}

    def with_calibration_pool(self, path: str | Path) -> PipelineConfig:
        """Reference calibration draws its prior from the file being reranked unless the
        pipeline names another pool; other pipelines are returned unchanged."""
        options = self.options()
        if options.get("calibrate") != "reference" or "calibration_pool" in options:
            return self
        loose = {**self.extra.get("_loose", {}), "calibration_pool": str(path)}
        return replace(self, extra={**self.extra, "_loose": loose})

    def build(self, *, planning: bool = False) -> Reranker:
        """The Reranker; with ``planning``, a planning build (``Reranker.planning``: the
        backend's tokenizer-only stand-in, a prefilter's cut-off without its model)."""
        merged = self.reranker_options()
        if "fusion" in self.extra:
            merged["fusion"] = Fusion.from_section(self.extra["fusion"])
        try:
            check_all(RERANKER_OPTIONS, merged, "the reranker")
            return (Reranker.planning if planning else Reranker)(
                backend=self.backend.name,
                model=self.model,
                method=self.method.name,
                strategy=self.strategy.name,
                prefilter=prefilter_from(self.extra.get("prefilter"), planning=planning),
                cache=cache_path(self.extra.get("cache")),
                **merged,
            )
        except ConfigError as exc:
            if self.source == DEFAULT_SOURCE:  # no file to point at: the message says it all
                raise
            raise ConfigError(f"{self.source}: {exc}") from exc


def prefilter_from(
    section: Mapping[str, Any] | None, *, planning: bool = False
) -> Prefilter | LLMPrefilter | None:
    """The ``[prefilter]`` table's prefilter: an LLM stage or a sentence-transformers model
    (for a plan: the LLM stage's planning build, or the model's cut-off ``k`` unloaded)."""
    if section is not None and section.get("type") == "llm":
        options = {k: v for k, v in section.items() if k != "type"}
        return llm_prefilter({**options, "planning": True} if planning else options)
    return build_prefilter(section, load=not planning)


def cache_path(section: Mapping[str, Any] | None) -> str | None:
    """The ``[cache] path = "..."`` of a pipeline config, if any."""
    if section is None:
        return None
    unknown = set(section) - {"path"}
    if unknown or not isinstance(section.get("path"), str):
        raise ConfigError(f"[cache] takes one option, path (a string); got {dict(section)}")
    return str(section["path"])
