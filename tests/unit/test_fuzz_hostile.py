"""Hypothesis over the second hostile round's classes: provenance changes between runs,
damaged journal entries, upstream bodies, template format specs, scripts without spaces, and
chat control strings under every preset and bracket rule."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from listrank.backends.base import GenerationRequest, LogprobRequest
from listrank.backends.openai import OpenAIBackend
from listrank.errors import BackendError, TemplateError
from listrank.pipeline.config import PipelineConfig
from listrank.pipeline.provenance import provenance
from listrank.prompting.budget import count_words, truncate_words
from listrank.prompting.injection import CHAT_FAMILIES
from listrank.prompting.presets import load_preset, preset_names
from listrank.prompting.templates import BRACKET_RULES, PromptTemplate, load_template
from listrank.runs.journal import Journal
from tests.support.hostile_server import HostileServer, Reply
from tests.unit.fuzz_support import fuzz, json_values
from tests.unit.test_resume import _entry

CONTROL = sorted({c for strings in CHAT_FAMILIES.values() for c in strings})


# -- provenance ------------------------------------------------------------------------------
@fuzz(40)
@given(
    st.binary(max_size=64),
    st.binary(max_size=64),
    st.sampled_from(["input", "corpus", "topics", "template", "pool"]),
)
def test_any_change_to_any_input_changes_its_provenance(
    tmp_path_factory: pytest.TempPathFactory, before: bytes, after: bytes, which: str
) -> None:
    tmp = tmp_path_factory.mktemp("prov")
    files = {name: tmp / f"{name}.txt" for name in ("input", "corpus", "topics", "template")}
    files["pool"] = tmp / "pool.jsonl"
    for path in files.values():
        path.write_bytes(b"same")
    cfg = PipelineConfig.from_dict(
        {"method": {"template": str(files["template"]), "calibration_pool": str(files["pool"])}}
    )
    named = {k: files[k] for k in ("input", "corpus", "topics")}
    files[which].write_bytes(before)
    old = provenance(cfg, named)
    files[which].write_bytes(after)
    new = provenance(cfg, named)
    differ = [k for k in set(old) | set(new) if old.get(k) != new.get(k)]
    if before == after:
        assert not differ
    else:
        assert len(differ) == 1 and (which in differ[0] or str(files[which]) in differ[0])


# -- damaged journal entries ------------------------------------------------------------------
@fuzz(60)
@given(st.integers(0, 10_000), st.integers(1, 255))
def test_a_damaged_journal_entry_is_never_loaded_as_another(
    tmp_path_factory: pytest.TempPathFactory, where: int, xor: int
) -> None:
    path = tmp_path_factory.mktemp("j") / "j"
    journal = Journal(path, "fp")
    entries = {q: _entry(q) for q in ("q1", "q2", "q3")}
    for e in entries.values():
        journal.append(e)
    journal.close()
    data = bytearray(path.read_bytes())
    header = data.index(b"\n") + 1
    pos = header + where % (len(data) - header)
    data[pos] ^= xor
    path.write_bytes(bytes(data))
    again = Journal(path, "fp")
    for qid, got in again.done.items():  # whatever survived is exactly what was written
        assert qid in entries and got.text == entries[qid].text
        assert got.ranking.trace == entries[qid].ranking.trace
    again.close()


# -- upstream bodies ----------------------------------------------------------------------------
def _bodies() -> st.SearchStrategy[bytes]:
    completion = st.fixed_dictionaries(
        {
            "choices": st.lists(
                st.dictionaries(
                    st.sampled_from(["message", "text", "logprobs"]), json_values, max_size=3
                ),
                max_size=2,
            )
        }
    )
    return st.one_of(
        st.binary(max_size=40),
        json_values.map(lambda v: json.dumps(v).encode()),
        completion.map(lambda v: json.dumps(v).encode()),
        st.text(max_size=30).map(lambda t: f"<html>{t}</html>".encode()),
    )


@pytest.fixture(scope="module")
def scripted_server() -> Any:
    state: dict[str, bytes] = {"body": b""}
    with HostileServer(lambda _: Reply(state["body"])) as server:
        backend = OpenAIBackend("m", base_url=server.url, max_attempts=1, timeout=5)
        yield state, backend
        backend.close()


@fuzz(40)
@given(_bodies(), st.booleans())
def test_any_upstream_body_is_an_answer_or_a_backend_error(
    scripted_server: Any, body: bytes, logprobs: bool
) -> None:
    state, backend = scripted_server
    state["body"] = body
    msgs = [{"role": "user", "content": "x"}]
    try:
        if logprobs:
            backend.next_token_logprobs([LogprobRequest(msgs, ("A", "B"), "[")])
        else:
            (result,) = backend.generate([GenerationRequest(msgs, 5)])
            assert isinstance(result.text, str)
            result.text.encode("utf-8")
    except BackendError as exc:
        assert "127.0.0.1" in str(exc)  # names the server


# -- template format specs ----------------------------------------------------------------------
@fuzz(80)
@given(
    st.sampled_from(["query", "passages", "num"]),
    st.one_of(
        st.just(""),
        st.text(alphabet=string.printable.replace("{", "").replace("}", ""), max_size=6),
    ),
    st.sampled_from(["", "!r", "!s", "!a"]),
)
def test_a_placeholder_with_any_spec_is_plain_or_refused(field: str, spec: str, conv: str) -> None:
    body = "{" + field + conv + (":" + spec if spec else "") + "}"
    content = f"Q: {{query}} P: {{passages}} X: {body}"
    data = {"messages": [{"role": "user", "content": content}]}
    try:
        template = PromptTemplate.from_dict(data, "t.toml")
    except TemplateError:
        assert conv or spec
        return
    assert not conv and not spec
    text = template.render("the query", ["alpha", "beta"]).messages[0]["content"]
    assert "the query" in text and "alpha" in text and "beta" in text


# -- scripts without spaces ---------------------------------------------------------------------
unspaced = st.text(
    alphabet=st.sampled_from(list("东京是日本的首都ひらがなカタカナภาษาไทยก\u0e34\u0e48 ab,。")),
    max_size=80,
)


@fuzz(100)
@given(unspaced, st.integers(1, 60))
def test_truncation_of_any_script_is_a_prefix_of_the_right_length(text: str, n: int) -> None:
    collapsed = " ".join(text.split())
    cut = truncate_words(text, n)
    assert collapsed.startswith(cut)
    assert count_words(cut) == min(n, count_words(collapsed))
    if count_words(collapsed) > n:
        assert len(cut) < len(collapsed)  # it really shrinks


# -- control strings x presets x bracket rules ----------------------------------------------------
@fuzz(100)
@given(
    st.lists(st.sampled_from(CONTROL) | st.text(max_size=8), min_size=1, max_size=6),
    st.sampled_from(preset_names()),
    st.sampled_from(BRACKET_RULES),
)
def test_no_control_string_survives_any_preset_and_rule(
    parts: list[str], preset: str, rule: str
) -> None:
    template = load_template(load_preset(preset).template).with_text_rules(brackets=rule)
    shown = template.show("".join(parts))
    for control in CONTROL:
        assert control not in shown, (preset, rule, control, shown)
