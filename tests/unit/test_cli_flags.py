"""Component flags on `ab` (every system, a system's own file wins), --base-url, rank_llm's
flag names as aliases, and a mistyped flag's suggestion without the usage dump."""

from __future__ import annotations

from pathlib import Path

import pytest

from listrank.cli import build_parser, main
from listrank.cli.common import flags_under, pipeline_config


def ab_args(*flags: str) -> object:
    return build_parser().parse_args(["ab", "a.toml", "--input", "x", "--qrels", "y", *flags])


def test_ab_flags_reach_every_system_and_a_file_wins_key_by_key() -> None:
    args = ab_args(
        "--backend", "openai", "--model", "m", "--base-url", "http://h/v1", "--window", "20"
    )
    preset = flags_under(
        {"method": {"name": "rankgpt"}, "strategy": {"name": "sliding"}}, "p", args
    )
    assert (preset.backend.name, preset.model, preset.method.name) == ("openai", "m", "rankgpt")
    assert preset.extra["_loose"] == {"base_url": "http://h/v1", "window": 20}
    own = flags_under(
        {"backend": {"name": "hf"}, "strategy": {"name": "sliding", "window": 5}}, "f.toml", args
    )
    assert own.backend.name == "hf" and own.model == "m"  # the file named its backend
    assert own.strategy.options == {"window": 5} and "window" not in own.extra["_loose"]


def test_rank_llm_names_are_aliases_with_a_note(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["rerank", "in.jsonl", "-o", "out.jsonl", "--window-size", "20", "--stride", "10"]
    args = build_parser().parse_args([*argv, "--num-passes", "2", "--num-gpus", "4"])
    assert (args.window, args.step, args.passes, args.tensor_parallel_size) == (20, 10, 2, 4)
    err = capsys.readouterr().err
    assert "--window-size is rank_llm's name for --window" in err
    assert "--num-gpus is rank_llm's name for --tensor-parallel-size" in err


def test_context_size_is_max_model_len_on_vllm() -> None:
    argv = ["rerank", "in.jsonl", "-o", "o", "--backend", "vllm", "--model", "m"]
    args = build_parser().parse_args([*argv, "--context-size", "4096"])
    assert pipeline_config(args).extra["_loose"] == {"max_model_len": 4096}
    args = build_parser().parse_args(["rerank", "in", "-o", "o", "--context-length", "512"])
    assert pipeline_config(args).extra["_loose"] == {"context_length": 512}


def test_base_url_belongs_to_the_openai_backend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"qid": "1", "query": "q", "candidates": [{"docid": "a", "text": "x"}]}\n')
    code = main(["rerank", str(src), "-o", str(tmp_path / "o"), "--base-url", "http://h/v1"])
    assert code == 2 and "base_url" in capsys.readouterr().err


def test_a_mistyped_flag_gets_its_suggestion_without_the_usage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["rerank", "in.jsonl", "-o", "out", "--windw", "3"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first.startswith("listrank rerank: error: unrecognized arguments: --windw (did you")
    assert "(did you mean '--window'?)" in first
    assert "usage:" not in err and len(err.splitlines()) == 2
