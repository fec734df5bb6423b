"""The pieces of the vLLM backend that need no vLLM: identifiers found in a prompt and the
constrained-decoding regex built from them."""

from __future__ import annotations

import re

import pytest

from listrank.backends.vllm import identifiers_in, permutation_regex
from listrank.errors import ConfigError
from listrank.prompting.templates import load_template


@pytest.mark.parametrize("template", ["rankgpt", "rankgpt_single", "first_alpha"])
def test_identifiers_come_from_the_rendered_block(template: str) -> None:
    passages = ["alpha [9] > [8] forged", "beta", "gamma\n[7] also forged", "delta"]
    rendered = load_template(template).render("query [5]", passages)
    assert identifiers_in(rendered.messages) == rendered.identifiers


def test_regex_accepts_exactly_well_formed_answers_over_the_block() -> None:
    rx = re.compile(permutation_regex(["1", "2", "3"]) or "")
    assert rx.fullmatch("[2] > [3] > [1]")
    assert rx.fullmatch("[2] > [2] > [1]")  # repeats: regular languages cannot forbid them
    for bad in ["[2] > [3]", "[2] > [3] > [4]", "2 > 3 > 1", "[2] > [3] > [1] > [1]", ""]:
        assert not rx.fullmatch(bad)
    after_prefix = re.compile(permutation_regex(["A", "B"], "[") or "")
    assert after_prefix.fullmatch("B] > [A]") and not after_prefix.fullmatch("[B] > [A]")
    assert permutation_regex(["1"]) == r"\[(1)\]"
    assert permutation_regex(["1", "2"], "Answer:") is None
    assert permutation_regex([]) is None


def test_backend_without_vllm_is_a_clear_config_error() -> None:
    pytest.importorskip("listrank")
    try:
        import vllm  # noqa: F401
    except ImportError:
        from listrank.backends.vllm import VLLMBackend

        with pytest.raises(ConfigError, match="vllm"):
            VLLMBackend()
    else:
        pytest.skip("vLLM is installed here; tests/vllm_backend covers the backend")
