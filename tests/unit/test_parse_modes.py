"""parse="listrank" (bracketed ids when present) versus parse="rankgpt" (the reference code's
every-digit-run rule), on the examples where they differ, and brackets kept or rewritten."""

from __future__ import annotations

import pytest

from listrank.backends.fake import FakeBackend
from listrank.errors import ConfigError
from listrank.methods.permutation import PermutationMethod
from listrank.prompting.parsing import parse_permutation
from listrank.prompting.templates import load_template, prepare_text

PROSE = "Sure! Here is the ranking of the 3 passages:\n[2] > [1]"


def one_based(text: str, n: int, mode: str, identifiers: str = "numeric") -> list[int]:
    return [i + 1 for i in parse_permutation(text, n, identifiers=identifiers, mode=mode).order]


def test_digits_in_prose_listrank_reads_only_bracketed_ids() -> None:
    assert one_based(PROSE, 3, "listrank") == [2, 1, 3]


def test_digits_in_prose_rankgpt_reads_every_digit_run_as_the_reference() -> None:
    # RankGPT's clean_response + receive_permutation on this answer give [3, 2, 1]
    assert one_based(PROSE, 3, "rankgpt") == [3, 2, 1]


def test_count_in_every_answer_puts_the_last_passage_first_under_rankgpt() -> None:
    answer = "Here is the ranking of the 20 passages: [4] > [12] > [1]"
    assert one_based(answer, 20, "rankgpt")[:4] == [20, 4, 12, 1]
    assert one_based(answer, 20, "listrank")[:4] == [4, 12, 1, 2]


def test_rankgpt_repair_drops_duplicates_and_out_of_range_then_appends_missing() -> None:
    parsed = parse_permutation("3 > 3 > 9 > 0 > 1", 4, mode="rankgpt")
    assert [i + 1 for i in parsed.order] == [3, 1, 2, 4]
    assert parsed.stats.duplicates == 1 and parsed.stats.out_of_range == 2
    assert parsed.stats.missing == 2 and parsed.filled == frozenset({1, 3})


def test_rankgpt_mode_ignores_think_blocks_as_the_reference_does() -> None:
    text = "<think>passage 2 looks best</think>[1] > [2]"
    assert one_based(text, 2, "rankgpt") == [2, 1]
    assert one_based(text, 2, "listrank") == [1, 2]


def test_rankgpt_alpha_reads_letters_as_rank_llm() -> None:
    # rank_llm's alpha clean_response: each letter -> its alphabet position
    assert one_based("[C] > [A] > [B]", 3, "rankgpt", "alpha") == [3, 1, 2]


def test_unparseable_text_is_malformed_in_both_modes() -> None:
    for mode in ("listrank", "rankgpt"):
        parsed = parse_permutation("no idea", 3, mode=mode)
        assert parsed.order == [0, 1, 2] and parsed.stats.malformed


def test_unknown_parse_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="parse mode"):
        parse_permutation("[1]", 1, mode="strict")
    with pytest.raises(ConfigError, match="parse="):
        PermutationMethod(FakeBackend(), parse="strict")


def test_bracket_rules() -> None:
    text = "habitat[edit] and [12]"
    assert prepare_text(text) == "habitat(edit) and (12)"
    assert prepare_text(text, brackets="numbers") == "habitat[edit] and (12)"
    assert prepare_text(text, brackets="keep") == text
    assert prepare_text("it\u00e2\u20ac\u2122s", brackets="keep", clean="ftfy") == "it's"


def test_method_options_override_the_templates_text_rules() -> None:
    m = PermutationMethod(FakeBackend(), template="rankgpt", brackets="keep", parse="rankgpt")
    assert m.template.brackets == "keep" and m.parse == "rankgpt"
    rendered = m.template.render("q [1]", ["a [b]"])
    assert rendered.messages[3]["content"] == "[1] a [b]"
    assert load_template("rankgpt").brackets == "neutralize"


def test_rankgpt_parse_gives_the_reference_order_end_to_end() -> None:
    backend = FakeBackend(responder=lambda _: PROSE)
    from listrank.types import Candidate, Query

    block = [Candidate(str(i), f"passage {i}") for i in range(3)]
    ref = PermutationMethod(backend, parse="rankgpt").judge(Query("q"), [block])[0]
    ours = PermutationMethod(backend).judge(Query("q"), [block])[0]
    assert list(ref.order) == [2, 1, 0] and list(ours.order) == [1, 0, 2]
