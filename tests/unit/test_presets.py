"""Presets render the exact prompt of their anchor (the reference code's own construction),
load as pipelines, and show up in the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from listrank.cli import main
from listrank.errors import ConfigError, UnknownComponentError
from listrank.pipeline.config import PipelineConfig
from listrank.pipeline.reranker import Reranker
from listrank.prompting.presets import load_preset, preset_names
from listrank.prompting.templates import load_template

QUERY = "what is a flea?"
# a wiki-style bracket, a forged identifier, mojibake (rank_llm's ftfy repairs it)
PASSAGES = ["Fleas[edit] are insects.", "it\u00e2\u20ac\u2122s a [2] thing", "Cats."]


def render(preset: str, **rules: str) -> tuple[list[dict[str, str]], str]:
    p = load_preset(preset)
    t = load_template(p.template).with_text_rules(**rules)
    r = t.render(QUERY, PASSAGES)
    return [dict(m) for m in r.messages], r.assistant_prefix


RANK_LLM_SYSTEM = (
    "You are RankLLM, an intelligent assistant that can rank passages based on their "
    "relevancy to the query."
)


def rank_llm_user(kind: str, ids: list[str], example: str) -> str:
    # rank_llm (70d8a8f / c54e78b) create_prompt: prefix + "\n", "[i] text\n" per passage,
    # post prompt; numbers in brackets -> parentheses, ftfy on the text
    body = "".join(
        f"[{i}] {t}\n"
        for i, t in zip(ids, ["Fleas[edit] are insects.", "it's a (2) thing", "Cats."], strict=True)
    )
    return (
        f"I will provide you with 3 passages, each indicated by a {kind} identifier []. "
        f"Rank the passages based on their relevance to the search query: {QUERY}.\n\n"
        f"{body}"
        f"Search Query: {QUERY}.\nRank the 3 passages above based on their relevance to the "
        "search query. All the passages should be included and listed using identifiers, in "
        "descending order of relevance. The output format should be [] > [], e.g., "
        f"{example}, Only respond with the ranking results, do not say any word or explain."
    )


def test_rank_zephyr_prompt_is_rank_llm_variable_passages() -> None:
    messages, prefix = render("rank_zephyr")
    assert messages == [
        {"role": "system", "content": RANK_LLM_SYSTEM},
        {"role": "user", "content": rank_llm_user("numerical", ["1", "2", "3"], "[2] > [1]")},
    ]
    assert prefix == ""


def test_rank_vicuna_prompt_is_rank_llm_fixed_windows() -> None:
    messages, _ = render("rank_vicuna")
    assert messages[1]["content"] == rank_llm_user("numerical", ["1", "2", "3"], "[4] > [2]")
    assert messages[0]["content"] == RANK_LLM_SYSTEM


def test_first_prompt_is_rank_llm_alpha_primed_with_bracket() -> None:
    messages, prefix = render("first")
    assert messages == [
        {"role": "system", "content": RANK_LLM_SYSTEM},
        {"role": "user", "content": rank_llm_user("alphabetical", ["A", "B", "C"], "[B] > [A]")},
    ]
    assert prefix == "["
    assert load_preset("first").method["name"] == "first"


RANKGPT_POST = (
    f"Search Query: {QUERY}. \nRank the 3 passages above based on their relevance to the search "
    "query. The passages should be listed in descending order using identifiers. The most "
    "relevant passages should be listed first. The output format should be [] > [], e.g., "
    "[1] > [2]. Only response the ranking results, do not say any word or explain."
)


def rankgpt_messages(texts: list[str]) -> list[dict[str, str]]:
    # RankGPT rank_gpt.py: get_prefix_prompt, one user/assistant pair per passage, post prompt
    out = [
        {
            "role": "system",
            "content": "You are RankGPT, an intelligent assistant that can rank passages based "
            "on their relevancy to the query.",
        },
        {
            "role": "user",
            "content": "I will provide you with 3 passages, each indicated by number identifier "
            f"[]. \nRank the passages based on their relevance to query: {QUERY}.",
        },
        {"role": "assistant", "content": "Okay, please provide the passages."},
    ]
    for i, t in enumerate(texts, start=1):
        out.append({"role": "user", "content": f"[{i}] {t}"})
        out.append({"role": "assistant", "content": f"Received passage [{i}]."})
    out.append({"role": "user", "content": RANKGPT_POST})
    return out


def test_rankgpt_prompt_with_kept_brackets_is_the_reference() -> None:
    messages, _ = render("rankgpt", brackets="keep")
    assert messages == rankgpt_messages(PASSAGES)


def test_rankgpt_prompt_by_default_neutralizes_brackets() -> None:
    messages, _ = render("rankgpt")
    shown = ["Fleas(edit) are insects.", "it\u00e2\u20ac\u2122s a (2) thing", "Cats."]
    assert messages == rankgpt_messages(shown)


def test_icr_prompt_is_the_papers_ie_prompt() -> None:
    messages, _ = render("icr", brackets="keep")
    # ICR reference: ' Here are some paragraphs:' + '\n\n[i] doc' per doc + '\n\n' + late IE
    # instruction + '\n\nQuery:' + ' query'; the [INST] framing comes from the chat template
    docs = "\n\n".join(f"[{i}] {t}" for i, t in enumerate(PASSAGES, start=1))
    assert messages == [
        {
            "role": "user",
            "content": f"Here are some paragraphs:\n\n{docs}\n\nPlease find information that "
            f"are relevant to the following query in the paragraphs above.\n\nQuery: {QUERY}",
        }
    ]


def test_every_preset_loads_and_names_its_source() -> None:
    names = preset_names()
    assert {"rankgpt", "rank_zephyr", "rank_vicuna", "first", "icr"} <= set(names)
    for name in names:
        p = load_preset(name)
        assert p.source and p.checkpoints and p.template
        cfg = PipelineConfig.from_preset(name)
        assert cfg.method.name == p.method["name"] and cfg.strategy.name == p.strategy["name"]


def test_unknown_preset_is_a_typed_error_naming_the_choices() -> None:
    with pytest.raises(UnknownComponentError, match="rank_zephyr"):
        load_preset("rank_zephir")


def test_from_preset_builds_the_presets_pipeline() -> None:
    r = Reranker.from_preset("rank_zephyr", backend="fake", step=5)
    method: Any = r.method
    assert method.template.name == "rank_zephyr" and method.template.clean == "ftfy"
    assert method.template.brackets == "numbers"
    assert r.strategy.plan(40).calls == 5  # window 20 (the preset's), step 5 (overridden)


def test_cli_presets_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("rankgpt", "rank_zephyr", "rank_vicuna", "first", "icr"):
        assert name in out
    assert "castorini/rank_zephyr_7b_v1_full" in out
    assert main(["presets", "show", "first"]) == 0
    assert "castorini/rank_llm @ c54e78b" in capsys.readouterr().out
    assert main(["presets", "show", "rank_zephyr"]) == 0
    assert "castorini/rank_llm @ 70d8a8f" in capsys.readouterr().out
    assert main(["presets", "show", "nope"]) == 2


def test_cli_prompts_render_preset_prints_the_exact_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    req = {
        "qid": "1",
        "query": QUERY,
        "candidates": [{"docid": str(i), "text": t} for i, t in enumerate(PASSAGES)],
    }
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(req) + "\n", encoding="utf-8")
    assert main(["prompts", "render", "--preset", "rank_zephyr", "--input", str(src)]) == 0
    out = capsys.readouterr().out
    expected = rank_llm_user("numerical", ["1", "2", "3"], "[2] > [1]")
    assert f"--- system ---\n{RANK_LLM_SYSTEM}\n--- user ---\n{expected}\n" in out


def test_preset_and_config_together_are_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "p.toml"
    cfg.write_text('[method]\nname = "rankgpt"\n', encoding="utf-8")
    from listrank.cli import build_parser
    from listrank.cli.common import pipeline_config

    args = build_parser().parse_args(
        ["plan", "--preset", "rankgpt", "--config", str(cfg), "--n", "20"]
    )
    with pytest.raises(ConfigError, match="--preset and --config"):
        pipeline_config(args)
