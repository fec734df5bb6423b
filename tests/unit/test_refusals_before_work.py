"""Every refusal before any work, every error typed: output paths of every command, plan sizes,
[fusion] value types, ports, template and preset names in `config check`, an API key read
with its trailing newline, and a failed batch that names its query."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from listrank.batch import BatchJob, run_batch
from listrank.cli import main
from listrank.errors import ConfigError, QueriesFailedError
from listrank.pipeline.config import PipelineConfig
from listrank.server.auth import authorized
from tests.support import scripted


@pytest.fixture(autouse=True)
def _scripted_backend() -> Iterator[None]:
    with scripted.registered():
        yield


def _requests(path: Path, n: int = 2, poison: int | None = None) -> Path:
    lines = []
    for q in range(n):
        word = "POISON" if q == poison else "plain"
        cands = [{"docid": f"d{q}{i}", "text": f"{word} passage {i}"} for i in range(3)]
        lines.append(json.dumps({"qid": f"q{q}", "query": f"query {q}", "candidates": cands}))
    path.write_text("\n".join(lines) + "\n")
    return path


class _NoModel:
    """A factory that fails the test if a pipeline is ever built."""

    def __call__(self, config: PipelineConfig) -> object:
        raise AssertionError("a pipeline was built before the output path was checked")


def test_batch_trace_path_is_checked_before_any_work(tmp_path: Path) -> None:
    inp = _requests(tmp_path / "in.jsonl")
    (tmp_path / "a-dir").mkdir()
    job = BatchJob(inp, tmp_path / "out", trace=tmp_path / "a-dir", progress=False)
    with pytest.raises(Exception, match="directory"):
        run_batch(job, factory=_NoModel())  # type: ignore[arg-type]


def test_ab_out_and_trace_are_checked_before_any_model_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], repo: Path
) -> None:
    inp = _requests(tmp_path / "in.jsonl")
    qrels = tmp_path / "qrels"
    qrels.write_text("q0 0 d00 1\nq1 0 d11 1\n")
    config = tmp_path / "a.toml"
    config.write_text('[backend]\nname = "scripted"\n[strategy]\nname = "single"\n')
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    base = ["ab", str(config), "--input", str(inp), "--qrels", str(qrels), "--no-progress"]
    assert main([*base, "--out", str(blocker)]) == 2
    assert "not a directory" in capsys.readouterr().err
    (tmp_path / "t-dir").mkdir()
    assert main([*base, "--out", str(tmp_path / "o"), "--trace", str(tmp_path / "t-dir")]) == 2
    assert "directory" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing was computed or written


def test_a_failed_batch_names_the_failed_query(tmp_path: Path) -> None:
    inp = _requests(tmp_path / "in.jsonl", n=4, poison=2)
    config = PipelineConfig.from_dict(
        {"backend": {"name": "scripted"}, "strategy": {"name": "single"}}
    )
    job = BatchJob(inp, tmp_path / "out", config, shard_size=2, progress=False)
    with pytest.raises(QueriesFailedError, match="'q2'") as info:
        run_batch(job)
    assert info.value.qids == ["q2"]


@pytest.mark.parametrize(
    "args",
    [
        ["--n", "10000000000"],
        ["--n", "-1"],
        ["--n", "50", "--passes", "1000000"],
        ["--n", "50", "--permutations", "100000"],
    ],
)
def test_plan_sizes_are_bounded(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", *args]) == 2
    assert "plan takes" in capsys.readouterr().err


@pytest.mark.parametrize(
    "body",
    ['weight = "high"', "k = [1]", "k = 2.5", "weight = true", "bogus = 1", "method = 3"],
)
def test_wrongly_typed_fusion_values_are_clear_errors(
    tmp_path: Path, body: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "p.toml"
    config.write_text(f"[fusion]\n{body}\n")
    assert main(["config", "check", str(config)]) == 2
    assert "fusion" in capsys.readouterr().err
    assert main(["plan", "--n", "20", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "fusion" in err and "Traceback" not in err


@pytest.mark.parametrize("port", ["99999", "-1", "65536"])
def test_absurd_ports_are_refused(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--backend", "scripted", "--port", port]) == 2
    assert "0..65535" in capsys.readouterr().err


def test_config_check_validates_template_and_preset_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "p.toml"
    config.write_text('[method]\nname = "rankgpt"\ntemplate = "rankgtp"\n')
    assert main(["config", "check", str(config)]) == 2
    err = capsys.readouterr().err
    assert "rankgtp" in err and "rankgpt" in err  # names the fix
    assert main(["config", "check", "preset:rank_zephry"]) == 2
    assert "rank_zephyr" in capsys.readouterr().err
    assert main(["config", "check", "preset:rank_zephyr"]) == 0


def test_an_api_key_read_with_a_trailing_newline_still_admits_its_clients() -> None:
    assert authorized("Bearer s3cret", "s3cret\n")
    assert authorized("Bearer s3cret", " s3cret\r\n")
    assert not authorized("Bearer other", "s3cret\n")
    assert not authorized(None, "s3cret\n")


def test_fusion_from_section_types() -> None:
    from listrank.pipeline.fusion import Fusion

    assert Fusion.from_section({"method": "linear", "weight": 1, "k": 5}).weight == 1
    with pytest.raises(ConfigError):
        Fusion.from_section({"weight": float("nan")})
