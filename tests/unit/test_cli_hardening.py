"""Careless and hostile CLI use: one-line errors with exit 2, found before any model work, and
nothing left behind (no output, no journal)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from listrank.cli import main

GOOD = {
    "qid": "q1",
    "query": "q",
    "candidates": [{"docid": "a", "text": "x"}, {"docid": "b", "text": "y"}],
}


def _write(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


def _one_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("listrank: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


HOSTILE_LINES = {
    "int-past-isfinite": (
        '{"qid": "1", "query": "q", "candidates": [{"docid": "a", "text": "x", "score": 1'
        + "0" * 400
        + "}]}",
        "line 1",
        "digits",
    ),
    "int-past-str-limit": (
        '{"qid": ' + "9" * 5000 + ', "query": "q", "candidates": []}',
        "line 1",
        "digits",
    ),
    "nested-1000": (
        '{"qid": "1", "query": "q", "x": ' + "[" * 1000 + "]" * 1000 + ', "candidates": []}',
        "line 1",
        "nested",
    ),
    "lone-surrogate-query": (
        '{"qid": "1", "query": "q \\ud800", "candidates": [{"docid": "a", "text": "x"}]}',
        "'query'",
        "surrogate",
    ),
    "lone-surrogate-passage": (
        '{"qid": "1", "query": "q", "candidates": [{"docid": "a", "text": "\\udfff"}]}',
        "'candidates[0].text'",
        "surrogate",
    ),
    "nan-unread-field": (
        '{"qid": "1", "query": "q", "candidates": [{"docid": "a", "text": "x", "m": NaN}]}',
        "line 1",
        "NaN",
    ),
    "float-overflow": (
        '{"qid": "1", "query": "q", "candidates": [{"docid": "a", "text": "x", "score": 1e999}]}',
        "line 1",
        "too large",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_LINES))
def test_hostile_input_lines_are_one_line_errors(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    line, where, words = HOSTILE_LINES[name]
    src = _write(tmp_path / "in.jsonl", json.dumps(GOOD), line.replace('"1"', '"2"'))
    code, err = _run(
        capsys,
        "rerank",
        str(src),
        "-o",
        str(tmp_path / "out.jsonl"),
        "--model",
        str(tiny_model_dir),
    )
    message = _one_error(err)
    assert code == 2 and where.replace("line 1", "line 2") in message and words in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_output_that_is_a_directory_is_refused_before_any_work(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "in.jsonl", json.dumps(GOOD))
    (tmp_path / "out").mkdir()
    # refused before the model loads
    code, err = _run(
        capsys, "rerank", str(src), "-o", str(tmp_path / "out"), "--model", str(tiny_model_dir)
    )
    assert code == 2 and "is a directory" in _one_error(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out"]


def test_output_equal_to_the_input_is_refused(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "in.jsonl", json.dumps(GOOD))
    before = src.read_bytes()
    code, err = _run(
        capsys,
        "rerank",
        str(src),
        "-o",
        str(tmp_path / "." / "in.jsonl"),
        "--model",
        str(tiny_model_dir),
    )
    assert code == 2 and "is the input" in _one_error(err)
    assert src.read_bytes() == before


def test_output_under_a_file_is_refused(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "in.jsonl", json.dumps(GOOD))
    code, err = _run(
        capsys,
        "rerank",
        str(src),
        "-o",
        str(src / "sub" / "out.jsonl"),
        "--model",
        str(tiny_model_dir),
    )
    assert code == 2 and "not a directory" in _one_error(err)


def test_trec_ids_with_whitespace_are_refused_before_any_work(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = {**GOOD, "candidates": [{"docid": "a b", "text": "x"}]}
    src = _write(tmp_path / "in.jsonl", json.dumps(bad))
    code, err = _run(
        capsys,
        "rerank",
        str(src),
        "-o",
        str(tmp_path / "run.trec"),
        "--format",
        "trec",
        "--model",
        str(tiny_model_dir),
    )
    message = _one_error(err)
    assert code == 2 and "'q1'" in message and "'a b'" in message
    code, err = _run(
        capsys,
        "rerank",
        str(src),
        "-o",
        str(tmp_path / "run.trec"),
        "--format",
        "trec",
        "--run-tag",
        "my tag",
        "--model",
        str(tiny_model_dir),
    )
    assert code == 2 and "run tag" in _one_error(err)


@pytest.mark.parametrize(
    "option", ["window=abc", "window=1.5", "permutations=x", "fusion_weight=true"]
)
def test_wrong_option_types_are_one_config_error(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    src = _write(tmp_path / "in.jsonl", json.dumps(GOOD))
    code, err = _run(
        capsys,
        "rerank",
        str(src),
        "-o",
        str(tmp_path / "o.jsonl"),
        "--model",
        str(tiny_model_dir),
        "-O",
        option,
    )
    assert code == 2 and option.split("=")[0] in _one_error(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]  # no journal either


def test_a_failure_after_validation_leaves_no_header_only_journal(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "in.jsonl", json.dumps(GOOD))
    # a context too small for any prompt fails at the first model call
    code, err = _run(
        capsys,
        "rerank",
        str(src),
        "-o",
        str(tmp_path / "o.jsonl"),
        "--model",
        str(tiny_model_dir),
        "-O",
        "context_length=5",
    )
    assert code == 2 and _one_error(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_prompt_too_long_names_the_query(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "in.jsonl", json.dumps(GOOD))
    code, err = _run(
        capsys,
        "rerank",
        str(src),
        "-o",
        str(tmp_path / "o.jsonl"),
        "--model",
        str(tiny_model_dir),
        "-O",
        "context_length=5",
    )
    message = _one_error(err)
    assert code == 2 and "'q1'" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_batch_output_that_is_a_file_is_refused(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "in.jsonl", json.dumps(GOOD))
    (tmp_path / "out").write_text("keep me")
    code, err = _run(
        capsys,
        "batch",
        str(src),
        "-o",
        str(tmp_path / "out"),
        "--model",
        str(tiny_model_dir),
        "--no-progress",
    )
    assert code == 2 and "not a directory" in _one_error(err)
    assert (tmp_path / "out").read_text() == "keep me"


@pytest.mark.parametrize(
    "manifest",
    [
        "[1, 2]",
        '{"job": [], "shards": {}}',
        '{"job": {}, "shards": []}',
        '{"job": {}, "shards": {"x": {}}}',
        '{"job": {}, "shards": {"00000": 5}}',
        '{"job": {}, "shards": {"00000": {"file": 3}}}',
        '{"job": {}, "shards": {"00000": {"file": "f", "workers": []}}}',
        '{"job": ' + "[" * 1000 + "]" * 1000 + "}",
        "not json",
    ],
)
def test_batch_manifest_of_the_wrong_shape_is_one_error(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str], manifest: str
) -> None:
    src = _write(tmp_path / "in.jsonl", json.dumps(GOOD))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "manifest.json").write_text(manifest)
    code, err = _run(
        capsys,
        "batch",
        str(src),
        "-o",
        str(tmp_path / "out"),
        "--model",
        str(tiny_model_dir),
        "--no-progress",
    )
    assert code == 2 and "not a listrank batch manifest" in _one_error(err)


def test_a_failed_first_batch_leaves_no_output_folder(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "in.jsonl", json.dumps(GOOD))
    # a context too small for any prompt fails at the first model call
    code, err = _run(
        capsys,
        "batch",
        str(src),
        "-o",
        str(tmp_path / "out"),
        "--model",
        str(tiny_model_dir),
        "--no-progress",
        "-O",
        "context_length=5",
    )
    assert code == 2 and _one_error(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]
