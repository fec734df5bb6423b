"""Presets as data: TOML files in ``presets/`` pairing a known checkpoint or paper with the
prompt it was trained or published with, its method, its block plan and its text handling.

A preset has metadata (``description``, ``checkpoints``, ``source``, ``decoding``, ``text``)
and the ``[method]`` and ``[strategy]`` sections of a pipeline config (``name`` plus options).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from listrank.errors import ConfigError, UnknownComponentError
from listrank.prompting.library import shipped_dir

_META = ("description", "checkpoints", "source", "decoding", "text")
_SECTIONS = ("method", "strategy")


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    checkpoints: tuple[str, ...]
    source: str
    decoding: str
    text: str
    method: Mapping[str, Any] = field(default_factory=dict)
    """``name`` and the method's options."""
    strategy: Mapping[str, Any] = field(default_factory=dict)
    path: str = "<memory>"

    @property
    def template(self) -> str:
        return str(self.method.get("template", ""))

    def pipeline(self) -> dict[str, Any]:
        """The [method] and [strategy] sections, as a pipeline config takes them."""
        return {"method": dict(self.method), "strategy": dict(self.strategy)}

    def options(self) -> dict[str, Any]:
        """Every option of the preset's method and strategy (names excluded)."""
        return {
            **{k: v for k, v in self.method.items() if k != "name"},
            **{k: v for k, v in self.strategy.items() if k != "name"},
        }


def _validate(data: Mapping[str, Any], name: str, source: str) -> Preset:
    unknown = set(data) - set(_META) - set(_SECTIONS)
    if unknown:
        raise ConfigError(f"{source}: unknown preset key(s) {sorted(unknown)}")
    for key in ("description", "source"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ConfigError(f"{source}: a preset needs a non-empty string {key!r}")
    checkpoints = data.get("checkpoints", [])
    if not isinstance(checkpoints, list) or not all(isinstance(c, str) for c in checkpoints):
        raise ConfigError(f"{source}: 'checkpoints' must be a list of strings")
    sections: dict[str, dict[str, Any]] = {}
    for section in _SECTIONS:
        value = data.get(section)
        if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
            raise ConfigError(f"{source}: [{section}] must be a table with a string 'name'")
        sections[section] = dict(value)
    return Preset(
        name=name,
        description=data["description"],
        checkpoints=tuple(checkpoints),
        source=data["source"],
        decoding=str(data.get("decoding", "")),
        text=str(data.get("text", "")),
        method=sections["method"],
        strategy=sections["strategy"],
        path=source,
    )


def preset_names() -> list[str]:
    return sorted(p.stem for p in shipped_dir("presets").glob("*.toml"))


def load_preset(name: str | Preset) -> Preset:
    """A preset from the library by name."""
    if isinstance(name, Preset):
        return name
    path = shipped_dir("presets") / f"{name}.toml"
    if not path.exists():
        raise UnknownComponentError("preset", str(name), preset_names())
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read preset: {exc}") from exc
    return _validate(data, path.stem, str(path))
