"""rank_llm compatibility on fixed fixtures: its current prompts (rank_llm @ 1b3cabb), its
answer repair (parse="rank_llm"), its window rule (last_window="rank_llm") and the reasoning
presets' prompts. The expected values are written out here from the reference's construction
(prefix + "[i] text\\n" per passage + suffix; Title/Content; 3-decimal scores); the benchmark
benchmarks/rank_llm_parity.py checks the same against rank_llm's own code on DL19."""

from __future__ import annotations

import pytest

from listrank.cli import main
from listrank.errors import ConfigError, TemplateError
from listrank.methods.setwise import first_label
from listrank.prompting.budget import passage_text
from listrank.prompting.parsing import parse_permutation
from listrank.prompting.presets import load_preset
from listrank.prompting.templates import PromptTemplate, load_template
from listrank.strategies.window import SlidingWindow
from listrank.types import Candidate

QUERY = "what is a flea [1]?"
PASSAGES = ["Fleas[edit] are insects.", "it\u00e2\u20ac\u2122s a [2] thing", "Cats."]
SHOWN = ["Fleas[edit] are insects.", "it's a (2) thing", "Cats."]  # ftfy + numbers rule
ZEPHYR_SUFFIX = (
    "Search Query: what is a flea (1)?.\nRank the 3 passages above based on their relevance to "
    "the search query. All the passages should be included and listed using identifiers, in "
    "descending order of relevance. The output format should be [] > [], e.g., {example}, "
    "Answer concisely and directly and only respond with the ranking results, do not say any "
    "word or explain."
)


def rendered(template: str, scores: list[float | None] | None = None) -> list[dict[str, str]]:
    return [dict(m) for m in load_template(template).render(QUERY, PASSAGES, scores).messages]


def test_rank_llm_zephyr_is_todays_rank_llm_prompt() -> None:
    body = "".join(f"[{i}] {t}\n" for i, t in enumerate(SHOWN, 1))
    assert rendered("rank_llm_zephyr") == [
        {
            "role": "system",
            "content": "You are RankLLM, an intelligent assistant that can rank passages "
            "based on their relevancy to the query",
        },
        {
            "role": "user",
            "content": "I will provide you with 3 passages, each indicated by a numerical "
            "identifier []. Rank the passages based on their relevance to the search query: "
            f"what is a flea (1)?.\n{body}" + ZEPHYR_SUFFIX.format(example="[2] > [1]"),
        },
    ]
    # the training-prompt preset is unchanged: one more line break, the older suffix
    old = rendered("rank_zephyr")[1]["content"]
    assert "query: what is a flea (1)?.\n\n[1]" in old and "Answer concisely" not in old


def test_rank_llm_first_uses_letters_and_primes_the_answer() -> None:
    t = load_template("rank_llm_first")
    r = t.render(QUERY, PASSAGES)
    assert r.assistant_prefix == "["
    body = "".join(f"[{i}] {s}\n" for i, s in zip("ABC", SHOWN, strict=True))
    assert r.messages[1]["content"] == (
        "I will provide you with 3 passages, each indicated by an alphabetical identifier []. "
        f"Rank the passages based on their relevance to the search query: what is a flea (1)?.\n"
        f"{body}" + ZEPHYR_SUFFIX.format(example="[B] > [A]")
    )


def test_rank_llm_gpt_differs_from_rankgpt_by_two_spaces_per_window() -> None:
    ours, theirs = rendered("rank_llm_gpt"), rendered("rankgpt")
    assert len(ours) == len(theirs) == 2 + 2 * 3 + 2
    assert ours[1]["content"] == (
        "I will provide you with 3 passages, each indicated by number identifier [].\n"
        "Rank the passages based on their relevance to query: what is a flea (1)?."
    )
    assert ours[-1]["content"].startswith("Search Query: what is a flea (1)?.\nRank the 3")
    assert ours[3] == {"role": "user", "content": "[1] Fleas[edit] are insects."}
    # on plain text the two differ only by the space before each of the two line breaks
    plain = [
        load_template(t).render("flea", ["a", "b"]).messages for t in ("rank_llm_gpt", "rankgpt")
    ]
    assert [m["content"].replace("\n", " \n") for m in plain[0]] == [m["content"] for m in plain[1]]
    assert sum(m["content"].count("\n") for m in plain[0]) == 2


def test_insert_rank_shows_first_stage_scores_with_three_decimals() -> None:
    user = rendered("insert_rank", [15.7806, 2.0, None])[1]["content"]
    assert "[1] Fleas[edit] are insects.\nBM25 score for passge [1]: 15.781\n" in user
    assert "[2] it's a (2) thing\nBM25 score for passge [2]: 2.000\n" in user
    assert "BM25 score for passge [3]: n/a\nSearch Query:" in user
    assert user.startswith(
        "I will provide you with 3 passages, each indicated by a numerical identifier []. "
        "I will also provide the BM25 scores from a lexical retrieval system.\n\nRank the "
    )


def test_lrl_lists_every_passage_id_in_the_prompt() -> None:
    (user,) = rendered("lrl")
    assert user["role"] == "user"
    assert (
        'PASSAGE1 = "Fleas[edit] are insects."\nPASSAGE2 = "it\'s a (2) thing"' in user["content"]
    )
    assert "PASSAGES: [PASSAGE1, PASSAGE2, PASSAGE3]\n" in user["content"]
    assert user["content"].endswith("SORTED_PASSAGES =")
    order = parse_permutation("[PASSAGE3, PASSAGE1, PASSAGE2]", 3, mode="rank_llm").order
    assert order == [2, 0, 1]


def test_titled_passages_as_rank_llm_writes_them() -> None:
    c = Candidate("d", "  body\ntext ", title="A  title")
    assert passage_text(c) == "A title: body text"
    assert passage_text(c, load_template("rank_llm_zephyr").titled) == (
        "Title: A title Content: body text"
    )
    with pytest.raises(TemplateError, match="titled"):
        PromptTemplate.from_dict(
            {"messages": [{"role": "user", "content": "{query} {passages}"}], "titled": "{x}"}
        )


def test_reasoning_presets_ask_for_think_and_answer_tags() -> None:
    reason = load_preset("reasonrank")
    assert reason.method["thinking"] == "on" and reason.method["reasoning_budget"] == 3072
    system = rendered("reasonrank")[0]["content"]
    assert "<think> reasoning process here </think> <answer> answer here </answer>" in system
    rearank = rendered("rearank")
    assert rearank[0]["content"].startswith("You are DeepRerank")
    assert rearank[3] == {"role": "user", "content": "[1] Fleas[edit] are insects."}  # kept
    assert rearank[-1]["content"].startswith(
        'Please rank these passages according to their relevance to the search query: "what '
        'is a flea [1]?"\n            Follow these steps exactly:'
    )
    r1 = rendered("rank_r1")
    assert r1[1]["content"].startswith(
        'Given the query: "what is a flea [1]?", which of the following documents is most '
        "relevant?\n[1] Fleas[edit] are insects.\n[2] "
    )


def test_prompts_render_a_reasoning_preset_with_the_chat_template(
    capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "in.jsonl"
    path.write_text(
        '{"qid": "1", "query": "flea", "candidates": [{"docid": "a", "text": "Fleas bite."},'
        ' {"docid": "b", "text": "Cats purr."}]}\n',
        encoding="utf-8",
    )
    argv = ["prompts", "render", "--preset", "reasonrank", "--chat", "--input", str(path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "<think> reasoning process here </think>" in out and "[2] Cats purr." in out
    assert out.rstrip().endswith("assistant")  # the generation prompt of the chat template


# -- parse="rank_llm" ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[3] > [1] > [2]", [3, 1, 2]),
        # only after the last </think>; prose digits count, as in rank_llm
        ("<think>[2] is best</think>Ranking of 3: [1] > [2]", [3, 1, 2]),
        ("<think>[2] is best and [3]", [2, 3, 1]),  # unclosed: the thought is read too
        ("[³] > [¹]", [3, 1, 2]),
        ("［２］ > ［３］", [2, 3, 1]),
        ("② > ③", [2, 3, 1]),
        ("[2] > ⓪ > [1]", [1, 2, 3]),  # a digit int() refuses: rank_llm keeps the input order
        ("<answer>[2] > [3]</answer>", [2, 3, 1]),
    ],
)
def test_rank_llm_parse_mode(text: str, expected: list[int]) -> None:
    assert [i + 1 for i in parse_permutation(text, 3, mode="rank_llm").order] == expected


def test_default_parse_reads_answer_blocks_fullwidth_digits_and_unopened_thoughts() -> None:
    def one_based(text: str) -> list[int]:
        return [i + 1 for i in parse_permutation(text, 3).order]

    assert one_based("<think>[1] first?</think><answer>[3] > [2]</answer>") == [3, 2, 1]
    assert one_based("［３］ > ［１］") == [3, 1, 2]
    assert one_based("the prompt opened the thought: [1] maybe</think>\n[2] > [3]") == [2, 3, 1]
    assert not parse_permutation("［３］ > ［１］", 3).stats.malformed


# -- last_window="rank_llm" ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("n", "spans"),
    [
        (15, [(0, 15)]),
        (20, [(0, 20)]),
        (21, [(1, 21), (0, 11)]),
        (25, [(5, 25), (0, 15)]),
        (35, [(15, 35), (5, 25), (0, 15)]),
        (40, [(20, 40), (10, 30), (0, 20)]),
    ],
)
def test_rank_llm_last_window(n: int, spans: list[tuple[int, int]]) -> None:
    w = SlidingWindow(window=20, step=10, last_window="rank_llm")
    assert w.spans(n) == spans
    assert w.plan(n).block_sizes == tuple(e - s for s, e in spans)
    full = SlidingWindow(window=20, step=10).spans(n)
    assert full[-1] == (0, min(n, 20))  # listrank's default judges the top with a full window


def test_rank_llm_last_window_runs_its_windows() -> None:
    seen: list[list[int]] = []

    def judge(blocks: list) -> list:  # type: ignore[type-arg]
        from listrank.types import CallRecord, Judgement

        seen.extend(list(b) for b in blocks)
        return [Judgement(tuple(range(len(b))), CallRecord("m", (), 0, 0, "", 0.0)) for b in blocks]

    SlidingWindow(window=20, step=10, last_window="rank_llm").rank(25, judge)
    assert seen == [list(range(5, 25)), list(range(0, 15))]
    with pytest.raises(ConfigError, match="last_window"):
        SlidingWindow(last_window="middle")


# -- setwise with numeric labels (Rank-R1) -------------------------------------------------
def test_numeric_setwise_labels() -> None:
    assert first_label("[3]", 5, "numeric") == (2, 0)
    assert first_label("[9] then 2", 5, "numeric") == (1, 1)
    assert first_label("none", 5, "numeric") == (None, 0)


def test_setwise_chat_with_brackets_kept_is_llm_rankers_prompt() -> None:
    from listrank.backends.fake import FakeBackend
    from listrank.methods.setwise import SetwiseMethod

    docs = ["Fleas[edit] are insects.", "see [2] and [C]", "Cats."]
    method = SetwiseMethod(
        FakeBackend(), template="setwise_chat", brackets="keep", max_new_tokens=1
    )
    r = method.template.render("what [is] a flea", docs)
    # llm-rankers @ b36517b SetwiseLlmRanker.compare: the input text, then ' Passage:' pre-filled
    passages = "\n\n".join(f'Passage {c}: "{d}"' for c, d in zip("ABC", docs, strict=True))
    expected = (
        'Given a query "what [is] a flea", which of the following passages is the most relevant '
        f"one to the query?\n\n{passages}\n\nOutput only the passage label of the most relevant "
        "passage:"
    )
    assert [dict(m) for m in r.messages] == [{"role": "user", "content": expected}]
    assert r.assistant_prefix == " Passage:" and method.label_tokens[0] == " A"
    neutral = SetwiseMethod(FakeBackend(), template="setwise_chat").template.render("q", docs)
    assert "Fleas(edit)" in neutral.messages[0]["content"]  # listrank's default rule


def test_rank_llm_shrink_rule_steps_a_word_per_four_tokens_over() -> None:
    from listrank.prompting.budget import fit_prompt

    texts = [" ".join(["w"] * 100)] * 2
    widths: dict[str, list[int]] = {"listrank": [], "rank_llm": []}
    for rule, seen in widths.items():

        def render(cut: list[str], seen: list[int] = seen) -> list[str]:
            seen.append(len(cut[0].split()))
            return cut

        fitted = fit_prompt(
            texts,
            render,
            lambda cut: sum(len(t.split()) for t in cut),  # a token a word
            context_length=150,
            reserve_tokens=0,
            max_words=100,
            shrink=rule,
        )
        assert fitted.prompt_tokens <= 150
    # rank_llm's create_prompt: max_length -= max(1, (tokens - budget) // (passages * 4))
    assert widths["rank_llm"] == [100, 94, 90, 87, 84, 82, 81, 80, 79, 78, 77, 76, 75]
    assert widths["listrank"] == [100, 75]
