"""The pipeline TOML schema as data: the effective configuration of a PipelineConfig (every
option of its components with its default), a check that loads no model, and the commented
starting file of `listrank config init`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from listrank import registry
from listrank.errors import ConfigError, TemplateError
from listrank.options import check_all
from listrank.pipeline.config import LAYERS, PipelineConfig, cache_path
from listrank.pipeline.fusion import Fusion
from listrank.pipeline.prefilter import PREFILTER_KINDS
from listrank.pipeline.reranker import _OWN_OPTIONS, RERANKER_OPTIONS, _split_options
from listrank.prompting.templates import load_template

PIPELINE_OPTIONS = sorted(_OWN_OPTIONS - {"prefilter", "cache"})
"""Options the Reranker itself takes (calibration, permutations, fusion); any layer's table."""
_PREFILTER_KEYS = {"type", "model", "k", "batch_size", "device", "max_length"}


def check(cfg: PipelineConfig) -> None:
    """Every name, option and type of ``cfg`` without loading a model (ConfigError if not)."""
    prefix = "" if cfg.source == "<defaults>" else f"{cfg.source}: "
    try:
        entries: dict[str, registry.Entry | None] = {
            layer: registry.get(layer, getattr(cfg, layer).name) for layer in LAYERS
        }
        given = cfg.reranker_options()
        _split_options({k: v for k, v in given.items() if k not in _OWN_OPTIONS}, entries)
        check_all(RERANKER_OPTIONS, given, "the reranker")
        extra = cfg.extra
        if "prefilter" in extra:
            section = dict(extra["prefilter"])
            kind = section.get("type", "cross-encoder")
            if kind not in PREFILTER_KINDS:
                raise ConfigError(f"[prefilter] type {kind!r}: choose one of {PREFILTER_KINDS}")
            if kind == "llm":
                _check_llm_prefilter(section, entries["backend"])
            else:
                unknown = set(section) - _PREFILTER_KEYS
                if unknown:
                    raise ConfigError(f"[prefilter]: unknown option(s) {sorted(unknown)}")
        if "fusion" in extra:
            Fusion.from_section(extra["fusion"])  # keys and types
        template = cfg.options().get("template")
        if isinstance(template, str):  # a misspelled name or a bad file fails here, not later
            try:
                load_template(template)
            except TemplateError as exc:
                raise ConfigError(str(exc)) from None
        cache_path(extra.get("cache"))
        backend = entries["backend"]
        assert backend is not None
        check_model = getattr(backend.load(), "check_model", None)
        if callable(check_model):  # a backend that can check its model without loading it
            check_model(cfg.model)
    except ConfigError as exc:
        raise ConfigError(f"{prefix}{exc}") from exc


def _check_llm_prefilter(section: Mapping[str, Any], pipeline_backend: Any) -> None:
    """An LLM prefilter's names and options, routed as its own Reranker would route them."""
    from listrank.pipeline.llm_prefilter import DEFAULT_METHOD, DEFAULT_STRATEGY

    options = {k: v for k, v in section.items() if k not in {"type", "k", "model"}}
    k = section.get("k", 20)
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ConfigError(f"[prefilter] k must be an integer >= 1; got {k!r}")
    backend = options.pop("backend", None)
    entries: dict[str, registry.Entry | None] = {
        "backend": registry.get("backend", str(backend)) if backend else pipeline_backend,
        "method": registry.get("method", str(options.pop("method", DEFAULT_METHOD))),
        "strategy": registry.get("strategy", str(options.pop("strategy", DEFAULT_STRATEGY))),
    }
    loose = {k: v for k, v in options.items() if k not in _OWN_OPTIONS}
    try:
        _split_options(loose, entries)
    except ConfigError as exc:
        raise ConfigError(f"[prefilter]: {exc}") from exc


def effective(cfg: PipelineConfig) -> dict[str, dict[str, Any]]:
    """Section -> key -> value in effect: the file and flags over each component's defaults."""
    check(cfg)
    given = cfg.reranker_options()
    entries: dict[str, registry.Entry | None] = {
        layer: registry.get(layer, getattr(cfg, layer).name) for layer in LAYERS
    }
    routed = _split_options({k: v for k, v in given.items() if k not in _OWN_OPTIONS}, entries)
    out: dict[str, dict[str, Any]] = {}
    for layer, entry in entries.items():
        assert entry is not None
        section: dict[str, Any] = {"name": entry.name}
        if layer == "backend":
            section["model"] = cfg.model
        for key, default in sorted(entry.defaults().items()):
            section[key] = routed[layer].get(key, default)
        out[layer] = section
    own = {o.name: o.default for o in RERANKER_OPTIONS}
    out["pipeline"] = {k: given.get(k, own.get(k)) for k in PIPELINE_OPTIONS}
    for name, table in cfg.extra.items():
        if name != "_loose":
            out[name] = dict(table)
    return out


TABLE_BEGIN = "<!-- options table: generated from the declarations (listrank config table) -->"
TABLE_END = "<!-- end of the options table -->"


def _cell(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, str | bool | int | float):
        return f"`{_toml_value(value)}`"
    return f"`{value!r}`"


def options_table() -> str:
    """Every declared option of every registered component and of the Reranker, as a
    Markdown table (the documentation's configuration table; a test holds the two equal)."""
    rows = [
        "| table | component | option | type | default | allowed | changes answers | what |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def add(table: str, component: str, options: Any) -> None:
        for o in options:
            if o.internal:
                continue
            answers = "yes" if o.changes_answers else "no"
            rows.append(
                f"| `[{table}]` | {component} | `{o.name}` | {o.type_name} | "
                f"{_cell(o.default)} | {o.bounds()} | {answers} | {o.help} |"
            )

    for layer in LAYERS:
        for name in registry.names(layer):
            add(layer, name, registry.get(layer, name).declared())
    add("method", "any (the Reranker)", RERANKER_OPTIONS)
    return "\n".join(rows)


def table_in(text: str) -> str | None:
    """The generated table inside a document's markers, or None without them."""
    if TABLE_BEGIN not in text or TABLE_END not in text:
        return None
    return text.split(TABLE_BEGIN, 1)[1].split(TABLE_END, 1)[0].strip()


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value))


def to_toml(sections: Mapping[str, Mapping[str, Any]]) -> str:
    """TOML text; unset (None) values become comments, since TOML has no null.

    The ``pipeline`` pseudo-section is written into ``[method]``: the Reranker's own options
    may sit in any layer's table."""
    lines: list[str] = []
    for name, section in sections.items():
        if name == "pipeline":
            continue
        lines.append(f"[{name}]")
        items = dict(section)
        if name == "method":
            items.update(sections.get("pipeline", {}))
        for key, value in items.items():
            if value is None:
                lines.append(f"# {key} = (unset)")
            else:
                lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


INIT_TEXT = """\
# listrank pipeline. Every section and key is optional; the values shown are the defaults.
# `listrank config show --config THIS_FILE` prints the effective configuration,
# `listrank config check THIS_FILE` validates it without loading a model.
# Command-line flags (--model, --window, -O key=value ...) override this file.

[backend]                  # what runs the model: hf, openai, vllm
name = "hf"
# model = "Qwen/Qwen2.5-7B-Instruct"   # folder, .gguf file or hub name; unset: embedded SmolLM2
# device = "auto"          # hf: auto, cpu, cuda, cuda:1
# batch_size = 8           # hf: blocks per forward batch
# base_url = "http://localhost:8000/v1"   # openai: any OpenAI-compatible server

[method]                   # how one block is judged: rankgpt, first, icr, setwise
# name = "icr"             # unset: icr on the embedded model, rankgpt on a named one
# template = "rankgpt"     # `listrank prompts list`; or a TOML file
# max_passage_words = 300
# calibrate = "content-free"   # first / icr: subtract a per-slot position prior
# permutations = 1             # judge K orderings of every block and average

[strategy]                 # which blocks are judged: single, sliding, tournament, tourrank,
name = "sliding"           # jointrank, setwise, tdpart
window = 20
# step = 10                # default: window // 2
# passes = 1

# [fusion]                 # blend the LLM order with the first stage
# method = "rrf"           # or "linear"
# weight = 0.5             # weight of the LLM ranking
# k = 60

# [prefilter]              # a cross-encoder in front of the LLM (needs the prefilter extra)
# type = "cross-encoder"   # or "bi-encoder"
# model = "cross-encoder/ms-marco-MiniLM-L-6-v2"
# k = 20
# type = "llm"             # or an LLM stage on this backend: method = "pointwise" (default),
#                          # strategy = "pointwise", k, and the method's options (template = …)

# [cache]                  # persistent call cache (SQLite, owner-only)
# path = "calls.sqlite"
"""
