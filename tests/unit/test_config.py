from __future__ import annotations

from pathlib import Path

import pytest

from listrank import ConfigError
from listrank.pipeline.config import PipelineConfig


def test_file_builds_the_pipeline(tmp_path: Path) -> None:
    p = tmp_path / "pipe.toml"
    p.write_text(
        '[backend]\nname = "fake"\n[strategy]\nname = "sliding"\nwindow = 6\nstep = 3\n'
        '[method]\ntemplate = "rankgpt_single"\n'
    )
    cfg = PipelineConfig.from_file(p)
    r = cfg.build()
    assert r.backend.name == "fake"  # type: ignore[attr-defined]
    assert r.strategy.plan(12).calls == 3
    assert r.method.template.name == "rankgpt_single"  # type: ignore[attr-defined]


def test_flags_override_the_file(tmp_path: Path) -> None:
    p = tmp_path / "pipe.toml"
    p.write_text('[backend]\nname = "fake"\n[strategy]\nname = "sliding"\nwindow = 6\n')
    r = PipelineConfig.from_file(p).with_overrides(strategy="single", options={"window": 4}).build()
    assert r.strategy.name == "single" and r.strategy.plan(12).block_sizes == (4,)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("[bogus]\nx = 1\n", "unknown section"),
        ('[strategy]\nname = "sliding"\nwindw = 3\n[backend]\nname = "fake"\n', "windw"),
        ("[method\n", "not valid TOML"),
        ("method = 3\n", "must be a table"),
    ],
)
def test_bad_configs_name_the_file(tmp_path: Path, body: str, needle: str) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(body)
    with pytest.raises(ConfigError) as err:
        PipelineConfig.from_file(p).build()
    assert needle in str(err.value) and str(p) in str(err.value)


def test_reference_calibration_pool_defaults_to_the_given_file() -> None:
    plain = PipelineConfig().with_overrides(options={"calibrate": "reference"})
    assert plain.with_calibration_pool("in.jsonl").options()["calibration_pool"] == "in.jsonl"
    named = PipelineConfig.from_dict(
        {"method": {"name": "first", "calibrate": "reference", "calibration_pool": "pool.jsonl"}}
    )
    assert named.with_calibration_pool("in.jsonl").options()["calibration_pool"] == "pool.jsonl"
    content_free = PipelineConfig().with_overrides(options={"calibrate": True})
    assert "calibration_pool" not in content_free.with_calibration_pool("in.jsonl").options()
