"""The GPU benchmark stops at once without CUDA, and its code path runs on a CPU (tiny
config) so it is known to work before a GPU is ever lent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import gpu


def test_without_cuda_it_fails_fast_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    built: list[str] = []
    monkeypatch.setattr(gpu, "build_model", lambda *a, **k: built.append("model"))
    assert gpu.main(["--input", "/nonexistent.jsonl"]) == 2
    assert "no CUDA device" in capsys.readouterr().err
    assert built == []  # nothing was built or read


def test_the_code_path_runs_on_a_cpu_with_a_tiny_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "in.jsonl"
    cands = [{"docid": f"d{i}", "text": f"passage {i} about things"} for i in range(4)]
    src.write_text(json.dumps({"qid": "1", "query": "what", "candidates": cands}) + "\n")
    printed: list[gpu.Result] = []
    table = gpu.print_table
    monkeypatch.setattr(
        gpu, "print_table", lambda results, *a: (printed.extend(results), table(results, *a))
    )
    args = ["--cpu-tiny", "--input", str(src), "--queries", "1", "--depth", "4"]
    assert gpu.main([*args, "--in-flight", "2"]) == 0
    assert [(r.method, r.variant) for r in printed] == [
        (m, v) for m in ("FIRST", "RankGPT", "ICR") for v in ("one at a time", "2 in flight")
    ]
    for r in printed:
        assert r.calls == 1 and r.prompt_tokens > 0 and r.wall_s > 0
        # fixed-length generation: RankGPT's one call generates exactly the fixed length
        assert r.generated_tokens == (gpu.RANKGPT_TOKENS if r.method == "RankGPT" else 0)
    assert "prefill tok/s" in capsys.readouterr().out
