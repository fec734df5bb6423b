from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listrank import parse_permutation


def test_clean_answer() -> None:
    r = parse_permutation("[2] > [3] > [1]", 3)
    assert r.order == [1, 2, 0]
    assert not r.stats.repaired and r.filled == frozenset()


def test_repairs_are_counted() -> None:
    r = parse_permutation("[2] > [2] > [9] > [1]", 4)
    assert r.order == [1, 0, 2, 3]
    assert (r.stats.duplicates, r.stats.out_of_range, r.stats.missing) == (1, 1, 2)
    assert r.filled == frozenset({2, 3})
    assert not r.stats.malformed


def test_no_ids_is_malformed_and_keeps_input_order() -> None:
    r = parse_permutation("I cannot rank these passages.", 3)
    assert r.order == [0, 1, 2]
    assert r.stats.malformed and r.stats.missing == 3


def test_echo_of_prompt_pattern_is_not_a_ranking() -> None:
    # the small model answers "Received passage [20]." - RankGPT's repair would put 20 first
    r = parse_permutation("Received passage [20].", 20, echo=["Received passage [{id}]"])
    assert r.stats.echo and r.stats.malformed
    assert r.order == list(range(20))


def test_thinking_preamble_is_ignored() -> None:
    text = "<think>maybe [1] is best, or [3]?</think>\n[3] > [2] > [1]"
    assert parse_permutation(text, 3).order == [2, 1, 0]


def test_unclosed_thinking_names_nothing() -> None:
    r = parse_permutation("<think>passage [2] looks good and", 3)
    assert r.stats.malformed


def test_bare_numbers_when_no_brackets() -> None:
    assert parse_permutation("3 > 1 > 2", 3).order == [2, 0, 1]


def test_huge_numbers_are_out_of_range_not_errors() -> None:
    r = parse_permutation("[" + "9" * 5000 + "] > [1]", 2)
    assert r.order == [0, 1]
    assert r.stats.out_of_range == 1


def test_unicode_digits_are_not_identifiers() -> None:
    r = parse_permutation("[٣] > [٢]", 3)
    assert r.stats.malformed and r.order == [0, 1, 2]


def test_alpha_identifiers() -> None:
    r = parse_permutation("[C] > [a] > [B]", 3, identifiers="alpha")
    assert r.order == [2, 0, 1]
    r = parse_permutation("C > A", 3, identifiers="alpha")
    assert r.order == [2, 0, 1] and r.stats.missing == 1


def test_zero_items() -> None:
    r = parse_permutation("[1] > [2]", 0)
    assert r.order == [] and r.stats.out_of_range == 2 and not r.stats.malformed


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        parse_permutation("", -1)
    with pytest.raises(ValueError):
        parse_permutation("", 2, identifiers="roman")


ID_TEXT = st.lists(
    st.one_of(
        st.integers(min_value=-5, max_value=10**12).map(lambda i: f"[{i}]"),
        st.integers(min_value=0, max_value=40).map(str),
        st.sampled_from(
            [
                " > ",
                ">",
                ", ",
                "\n",
                "<think>",
                "</think>",
                "Received passage ",
                "[",
                "]",
                "[A]",
                "١٢",
                "🙂",
                "\x00",
            ]
        ),
        st.text(max_size=8),
    ),
    max_size=60,
).map("".join)


@settings(max_examples=3000, deadline=None)
@given(
    text=st.one_of(st.text(max_size=300), ID_TEXT),
    n=st.integers(min_value=0, max_value=40),
    alpha=st.booleans(),
)
def test_always_a_permutation(text: str, n: int, alpha: bool) -> None:
    scheme = "alpha" if alpha and n <= 26 else "numeric"
    r = parse_permutation(text, n, identifiers=scheme, echo=["Received passage [{id}]"])
    assert sorted(r.order) == list(range(n))
    assert r.filled <= set(range(n))
    assert r.stats.missing == len(r.filled)
    # the ranked prefix comes first, repaired positions after it, in input order
    tail = r.order[n - len(r.filled) :] if r.filled else []
    assert tail == sorted(r.filled)
