"""Every code block of the README and the docs runs as written, page by page in order, on the
tiny random model standing in for the embedded one (same loading path, other weights) and with
DL19 from a hub cache laid out as the hub lays it out: shell commands, Python, TOML configs
(checked with `listrank config check`), console output (compared). A block that cannot run
here is marked in the page (`<!-- docs-test: skip (why) -->`), and an unmarked block that
fails fails here, so no new block escapes. The walk-through block runs in test_walkthrough."""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from listrank.backends.embedded import EMBEDDED_NAME
from listrank.cli import build_parser
from listrank.cli.reference import subcommands
from tests.support.docs_blocks import (
    FENCE,
    GENERATED,
    KNOWN,
    ROOT,
    SHELL,
    Block,
    PageRunner,
    Ran,
    all_blocks,
    blocks,
    commands,
    inline_argvs,
    listrank_argvs,
    pages,
)
from tests.support.fake_openai import FakeOpenAIServer
from tests.support.walkthrough import walkthrough_commands
from tests.unit.hub_cache import offline_dl19

RUN_PAGES = [
    p
    for p in pages()
    if p not in GENERATED and any(not (b.skip or b.walkthrough) for b in blocks(p))
]


def test_every_block_is_of_a_kind_the_test_runs_or_is_marked() -> None:
    for block in all_blocks():
        assert block.lang in KNOWN, f"{block.where}: a ```{block.lang} block has no runner"
        if block.lang == "text":
            assert block.page in GENERATED, f"{block.where}: ```text runs nowhere; use console"
        if block.lang in SHELL and not (block.skip or block.walkthrough):
            made = [c.line for c in commands(block) if c.line.split()[0] == "make"]
            assert not made, f"{block.where}: make targets cannot run in a test; mark the block"
    for page in pages():  # a marker stands right before a block, or it marks nothing
        text = (ROOT / page).read_text(encoding="utf-8")
        markers = re.findall(r"^<!-- docs-test: skip \(", text, re.M)
        assert len(markers) == sum(1 for b in blocks(page) if b.skip), page


def test_every_listrank_command_in_the_docs_parses_with_the_real_parser() -> None:
    """Skipped blocks too: their flags are the real ones, whatever they need to run."""
    argvs = [argv for block in all_blocks() for argv in listrank_argvs(block)]
    assert len(argvs) > 20
    parser = build_parser()
    for argv in argvs:
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            raise AssertionError(f"`listrank {' '.join(argv)}` does not parse") from exc


def test_the_flags_and_choices_the_prose_names_are_the_parsers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Inline `listrank ...` spans name parts of a command (a required argument may be left
    out, a placeholder stands in CAPITALS), but every flag and choice they name exists."""
    parser = build_parser()
    spans = [(page, argv) for page in pages() for argv in inline_argvs(page)]
    assert len(spans) > 30
    for page, argv in spans:
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            error = capsys.readouterr().err
            bad = re.search(r"invalid choice: '([^']*)'", error)
            drift = "unrecognized arguments" in error or (bad and not bad.group(1).isupper())
            assert exc.code == 0 or not drift, f"{page}: `listrank {' '.join(argv)}`: {error}"
        capsys.readouterr()


OTHER_FLAGS = {
    "--windw": "the page's example of a mistyped flag",
    "--strict": "mkdocs build",
    "--only": "the benchmarks' and the docs walk's row selection",
    "--skip": "the docs walk's selection",
    "--markdown": "the docs walk's table",
    "--queries": "python -m benchmarks.strategies",
    "--arch": "python -m benchmarks.gpu",
    "--cpu-tiny": "python -m benchmarks.gpu",
    "--before": "python -m benchmarks.plan_speed",
    "--repeats": "python -m benchmarks.plan_speed",
    "--hf-queries": "python -m benchmarks throughput",
    "--hf-threads": "python -m benchmarks throughput",
}
"""Flags the prose names that belong to other programs than `listrank`, and why."""


def test_every_flag_the_prose_names_is_a_listrank_flag() -> None:
    parser = build_parser()
    known = {flag for p in _parsers(parser) for a in p._actions for flag in a.option_strings}
    named = {
        (page, flag)
        for page in pages()
        if page not in GENERATED
        for span in re.findall(r"`([^`]+)`", FENCE.sub("", (ROOT / page).read_text()))
        for flag in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", span)
    }
    assert len(named) > 50
    unknown = sorted((page, f) for page, f in named if f not in known | OTHER_FLAGS.keys())
    assert unknown == [], "a flag the docs name is no listrank flag (renamed or removed?)"


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    return [parser, *subcommands(parser)]


def test_the_walkthrough_block_is_the_one_its_test_runs() -> None:
    (block,) = [b for b in all_blocks() if b.walkthrough]
    assert block.page == "docs/walkthrough.md"
    assert [c.line.split("  #")[0].strip() for c in commands(block)] == walkthrough_commands()


@pytest.fixture
def page_env(
    tmp_path: Path, data_dir: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, dict[str, str]]]:
    """A reader's fresh folder (the checkout's examples/ beside it), the embedded model's
    place in the listrank cache held by the tiny model, DL19 in the hub cache, and an
    OpenAI-compatible loopback stand-in as the API server."""
    folder = tmp_path / "reader"
    folder.mkdir()
    (folder / "examples").symlink_to(ROOT / "examples")
    caches = tmp_path / "caches"
    offline_dl19(caches, monkeypatch, data_dir)
    models = caches / "listrank-cache" / "models"
    models.mkdir(parents=True)
    (models / EMBEDDED_NAME).symlink_to(tiny_model_dir)
    with FakeOpenAIServer() as api:
        for key, value in {
            "HF_HUB_CACHE": str(caches / "hub"),
            "OPENAI_BASE_URL": api.url,
            "OPENAI_API_KEY": "sk-docs-test",
        }.items():
            monkeypatch.setenv(key, value)
        yield folder, dict(os.environ)


@pytest.mark.parametrize("page", RUN_PAGES)
def test_the_page_blocks_run_in_order(page: str, page_env: tuple[Path, dict[str, str]]) -> None:
    folder, env = page_env
    ran: list[Ran] = []
    with PageRunner(folder, env) as runner:
        for block in blocks(page):
            if block.skip or block.walkthrough:
                continue
            ran.append(runner.run(block))
            check = next((c for marker, c in CHECKS.get(page, []) if marker in block.text), None)
            if check:
                check(ran[-1], runner)
    assert ran


# -- what some blocks produce, beyond running -----------------------------------------------


def _readme_quick_start(ran: Ran, runner: PageRunner) -> None:
    printed = ran.outputs[0].strip()
    assert sorted(eval(printed)) == ["0", "1"]  # the two docids, in the new order


def _readme_rerank(ran: Ran, runner: PageRunner) -> None:
    folder = runner.folder
    lines = (folder / "reranked.jsonl").read_text().splitlines()
    src = (ROOT / "examples" / "demo.jsonl").read_text().splitlines()
    assert [json.loads(x)["qid"] for x in lines] == [json.loads(x)["qid"] for x in src]
    for out, given in zip(lines, src, strict=True):
        docids = [c["docid"] for c in json.loads(out)["candidates"]]
        assert sorted(docids) == sorted(c["docid"] for c in json.loads(given)["candidates"])


def _guide_dataframes(ran: Ran, runner: PageRunner) -> None:
    assert sorted(ran.scope["out"]["docno"]) == ["d1", "d2", "d3"]
    assert sorted(ran.scope["reranked"]["docno"]) == ["d1", "d2", "d3"]


def _cli_rerank(ran: Ran, runner: PageRunner) -> None:
    folder = runner.folder
    run = (folder / "run.trec").read_text().splitlines()
    assert len(run) == sum(
        len(json.loads(x)["candidates"]) for x in (ROOT / "examples" / "demo.jsonl").open()
    )
    for name in ("out.jsonl", "small-windows.jsonl"):
        assert len((folder / name).read_text().splitlines()) == 3  # the demo's three queries
    chat = ran.outputs[-1]  # the first query's prompt, 3 passages, in the chat template
    assert "how do honeybees tell other bees" in chat and "<|im_start|>assistant" in chat
    assert "[3] Forager bees" in chat and "[4]" not in chat


def _cli_batch(ran: Ran, runner: PageRunner) -> None:
    folder = runner.folder
    shards = sorted((folder / "out").glob("shard-*.jsonl"))
    assert [p.name for p in shards] == ["shard-00000.jsonl", "shard-00001.jsonl"]
    written = [json.loads(x)["qid"] for p in shards for x in p.read_text().splitlines()]
    given = [json.loads(x)["qid"] for x in (ROOT / "examples" / "demo.jsonl").open()]
    assert written == given  # two shards of two queries and one, in input order
    assert (folder / "out" / "manifest.json").is_file()


def _serve_curl(ran: Ran, runner: PageRunner) -> None:
    answer = json.loads(ran.outputs[-1])
    assert [r["index"] for r in answer["results"]] in ([0], [1])  # top_n 1 of the 2 documents


def _serve_cohere(ran: Ran, runner: PageRunner) -> None:
    assert len(ran.scope["resp"].results) == 1


def _serve_integrations(ran: Ran, runner: PageRunner) -> None:
    assert len(ran.scope["best"]) == 1 and len(ran.scope["top"]) == 1


def _serve_mcp_pipelines(ran: Ran, runner: PageRunner) -> None:
    offered = runner.mcp_sessions[-1]["instructions"]  # the stdio server's pipelines, by name
    assert all(f"- {name}:" in offered for name in ("rank_zephyr", "fast", "first")), offered


def _configuration_files(ran: Ran, runner: PageRunner) -> None:
    folder = runner.folder
    assert "window = 30" in ran.outputs[1]  # the flag over the file's value
    assert (folder / "pipeline.toml").read_text().startswith("#")


CHECKS: dict[str, list[tuple[str, Callable[[Ran, PageRunner], None]]]] = {
    "README.md": [
        ("from listrank import Reranker", _readme_quick_start),
        ("listrank rerank", _readme_rerank),
    ],
    "docs/guide.md": [("rerank_many(df)", _guide_dataframes)],
    "docs/cli.md": [("prompts render", _cli_rerank), ("listrank batch", _cli_batch)],
    "docs/configuration.md": [("config init", _configuration_files)],
    "docs/serve.md": [
        ("curl", _serve_curl),
        ("import cohere", _serve_cohere),
        ("ListrankRerank", _serve_integrations),
        ("--pipeline fast=fast.toml", _serve_mcp_pipelines),
    ],
}


def test_the_checks_name_blocks_that_exist() -> None:
    for page, checks in CHECKS.items():
        for marker, _ in checks:
            assert [b for b in blocks(page) if marker in b.text and not b.skip], (page, marker)


def test_an_unmarked_block_that_fails_fails_the_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = PageRunner(tmp_path, dict(os.environ))
    with runner:
        with pytest.raises(AssertionError, match=r"x\.md:3"):
            runner.run(Block("x.md", 3, "sh", "listrank config check missing.toml\n"))
        with pytest.raises(AssertionError, match="make target"):
            runner.run(Block("x.md", 5, "sh", "make demo\n"))
        with pytest.raises(AssertionError, match="printed"):
            runner.run(Block("x.md", 7, "console", "$ echo hello\nbye\n"))
        assert runner.run(Block("x.md", 9, "console", "$ echo hello\nhello\n")).outputs == [
            "hello\n"
        ]
        three = "$ printf 'a\\nb\\nc\\n'\n"
        assert runner.run(Block("x.md", 11, "console", three + "a\n…\nc\n")).outputs
        with pytest.raises(AssertionError, match="printed"):  # … stands for lines, not for c
            runner.run(Block("x.md", 13, "console", three + "a\n…\nd\n"))
