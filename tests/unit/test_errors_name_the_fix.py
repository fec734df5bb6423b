"""Errors a newcomer hits say what is wrong and what to do, from the CLI and from Python."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from listrank import ConfigError, InputError, ModelLoadError, Reranker
from listrank.backends.fake import FakeBackend
from listrank.cli import main
from listrank.pipeline.reranker import as_candidates

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.jsonl"


def rerank_err(tmp_path: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str]:
    code = main(["rerank", str(DEMO), "-o", str(tmp_path / "out.jsonl"), *flags])
    return code, capsys.readouterr().err


def test_missing_model_path_says_what_was_looked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = rerank_err(tmp_path, capsys, "--model", "/nonexistent/model")
    assert code == 2
    assert "model path '/nonexistent/model' does not exist" in err
    assert "config.json" in err and "tokenizer" in err and ".gguf" in err
    assert "Repo id" not in err  # not transformers' hub-name message
    assert not list(tmp_path.iterdir())  # no output, no journal


def test_folder_without_a_model_lists_what_is_missing_and_what_is_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, err = rerank_err(tmp_path, capsys, "--model", str(empty))
    assert code == 2 and "holds no model" in err and "nothing (empty folder)" in err
    (empty / "notes.txt").write_text("x")
    (empty / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError) as info:
        Reranker(model=str(empty))
    msg = str(info.value)
    assert (
        "missing weights" in msg
        and "a tokenizer" in msg
        and "config.json" not in msg.split("missing")[1].split(";")[0]
    )
    assert "found: config.json, notes.txt" in msg
    assert "sentencepiece" not in msg


def test_option_of_another_layer_names_its_owner_and_hides_internal_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = rerank_err(tmp_path, capsys, "--strategy", "sliding", "-O", "pivot=5")
    assert code == 2
    assert "option 'pivot' belongs to strategy tdpart" in err
    assert "--strategy tdpart" in err
    code, err = rerank_err(tmp_path, capsys, "-O", "colour=3")
    assert code == 2 and "unknown option 'colour'" in err
    assert "model_obj" not in err and "tokenizer" not in err.split("options here:")[1]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (("--method", "rankgtp"), "unknown method 'rankgtp' (did you mean 'rankgpt'?)"),
        (("--strategy", "slidng"), "unknown strategy 'slidng' (did you mean 'sliding'?)"),
        (("--template", "rankgtp"), "(did you mean 'rankgpt'?)"),
        (("-O", "windw=3"), "unknown option 'windw' (did you mean 'window'?)"),
        (("-O", "permutation=2"), "(did you mean 'permutations'?)"),
    ],
)
def test_typos_get_the_closest_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: tuple[str, ...], expected: str
) -> None:
    code, err = rerank_err(tmp_path, capsys, *flags)
    assert code == 2 and expected in err


def test_flag_and_subcommand_typos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        rerank_err(tmp_path, capsys, "--windw", "3")
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --windw (did you mean '--window'?)" in err
    with pytest.raises(SystemExit):
        main(["rernak"])
    assert "(did you mean 'rerank'?)" in capsys.readouterr().err


def test_no_defaults_prefix_without_a_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = rerank_err(tmp_path, capsys, "--window", "1")
    assert code == 2 and "window" in err and "<defaults>" not in err
    config = tmp_path / "p.toml"
    config.write_text('[strategy]\nname = "sliding"\nwindw = 3\n')
    code, err = rerank_err(tmp_path, capsys, "--config", str(config))
    assert code == 2 and f"{config}: unknown option 'windw'" in err


def test_wrong_types_are_the_same_config_error_from_python_and_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = "option 'window' of strategy sliding must be int; got str '20'"
    with pytest.raises(ConfigError, match=expected):
        Reranker(backend=FakeBackend(), window="20")
    code, err = rerank_err(tmp_path, capsys, "-O", 'window="20"')
    assert code == 2 and expected in err
    config = tmp_path / "p.toml"
    config.write_text('[strategy]\nwindow = "20"\n')
    assert main(["config", "check", str(config)]) == 2
    assert expected in capsys.readouterr().err
    with pytest.raises(ConfigError, match="option 'batch_size' of backend hf must be int"):
        Reranker(batch_size=2.5)
    with pytest.raises(ConfigError, match="'permutations' of the reranker must be int; got str"):
        Reranker(backend=FakeBackend(), permutations="2")


def test_fake_backend_is_refused_by_model_commands_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = rerank_err(tmp_path, capsys, "--backend", "fake")
    assert code == 2 and "only answers what Python code scripts into it" in err
    assert "hf, openai, vllm" in err
    assert not list(tmp_path.iterdir())
    # plan calls no model: the fake backend still counts calls there
    assert main(["plan", "--backend", "fake", "--n", "30", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["calls"] == 2


def test_candidates_strings_objects_and_mappings_with_or_without_docid() -> None:
    cands = as_candidates([{"text": "a"}, {"text": "b", "title": "T"}])
    assert [(c.docid, c.text, c.title) for c in cands] == [("0", "a", None), ("1", "b", "T")]
    mixed = as_candidates(["x", {"docid": "d7", "text": "y", "score": 2.0}])
    assert [c.docid for c in mixed] == ["0", "d7"] and mixed[1].score == 2.0
    with pytest.raises(InputError, match=r"unknown key\(s\) \['id'\].*docid defaults"):
        as_candidates([{"id": "1", "text": "a"}])
    with pytest.raises(InputError, match="'text' must be a string"):
        as_candidates([{"docid": "a"}])
    with pytest.raises(InputError, match="duplicate docid '1'"):
        as_candidates([{"text": "a"}, {"text": "b"}, {"docid": "1", "text": "c"}])
    backend = FakeBackend(["[2] > [1]"])
    ranking = Reranker(backend=backend, strategy="single").rerank(
        "q", [{"text": "first"}, {"text": "second"}]
    )
    assert ranking.docids == ["1", "0"]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    import listrank

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"listrank {listrank.__version__}"
    assert listrank.__version__[0].isdigit()
