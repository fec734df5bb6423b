"""rank_llm compatibility switches: doc field precedence and doc.content, rank_start,
seeded candidate shuffling, --top-k-rerank and --format rank_llm (its Result with
invocations_history)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from listrank.backends.fake import FakeBackend
from listrank.cli import main
from listrank.errors import ConfigError, InputError
from listrank.methods.permutation import PermutationMethod
from listrank.pipeline.reranker import Reranker
from listrank.runs.io import parse_request
from listrank.strategies.window import SingleWindow
from listrank.types import Candidate


def _request(doc: object) -> dict[str, object]:
    return {"query": {"qid": "1", "text": "q"}, "candidates": [{"docid": "a", "doc": doc}]}


def test_doc_field_precedence_listrank_or_rank_llm() -> None:
    both = _request({"contents": "title and text", "text": "text alone"})
    assert parse_request(both).candidates[0].text == "title and text"
    assert parse_request(both, fields="rank_llm").candidates[0].text == "text alone"
    # rank_llm reads doc.content; so does listrank now, in either order
    assert parse_request(_request({"content": "c"})).candidates[0].text == "c"
    assert parse_request(_request({"content": "c"}), fields="rank_llm").candidates[0].text == "c"
    with pytest.raises(InputError, match="doc field order"):
        parse_request(both, fields="pyserini")


def _reversing(backend: FakeBackend) -> PermutationMethod:
    # the judge reverses every block it is shown
    def reverse(req: object) -> str:
        text = "\n".join(m["content"] for m in req.messages)  # type: ignore[attr-defined]
        ids = re.findall(r"^\[(\d+)\]", text, re.MULTILINE)
        return " > ".join(f"[{i}]" for i in reversed(ids))

    backend.responder = reverse
    return PermutationMethod(backend, template="rankgpt_single")


CANDS = [Candidate(f"d{i}", f"passage {i}") for i in range(8)]


def test_rank_start_keeps_the_first_candidates_on_top_unjudged() -> None:
    backend = FakeBackend()
    method = _reversing(backend)
    reranker = Reranker(
        backend, method=method, strategy=SingleWindow(), rank_start=2, top_k_candidates=6
    )
    ranking = reranker.rerank("q", CANDS)
    assert ranking.docids == ["d0", "d1", "d5", "d4", "d3", "d2", "d6", "d7"]
    (call,) = ranking.trace.calls
    assert call.docids == ("d2", "d3", "d4", "d5")
    assert reranker.plan(8).block_sizes == (4,)
    scores = [r.score for r in ranking.ranked]
    assert scores == sorted(scores, reverse=True)
    with pytest.raises(ConfigError, match="rank_start"):
        Reranker(backend, method=method, strategy=SingleWindow(), rank_start=6, top_k_candidates=6)


def test_shuffled_candidates_are_seeded() -> None:
    backend = FakeBackend()
    method = _reversing(backend)
    reranker = Reranker(backend, method=method, strategy=SingleWindow(), shuffle_candidates=7)
    first = reranker.rerank("q", CANDS)
    again = reranker.rerank("q", CANDS)
    shuffled = [c.docid for c in CANDS]
    random.Random(7).shuffle(shuffled)
    assert first.trace.calls[0].docids == tuple(shuffled) == again.trace.calls[0].docids
    assert first.docids == again.docids == list(reversed(shuffled))


def test_top_k_rerank_and_the_rank_llm_result_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("openai")
    from tests.support.fake_openai import FakeOpenAIServer

    server = FakeOpenAIServer().start()
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-switches")
    src = tmp_path / "in.jsonl"
    cands = [{"docid": f"d{i}", "score": 9.0 - i, "doc": {"text": f"t {i}"}} for i in range(5)]
    src.write_text(
        json.dumps({"query": {"qid": "7", "text": "a query"}, "candidates": cands}) + "\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    argv = ["rerank", str(src), "-o", str(out), "--backend", "openai", "--model", "m"]
    argv += ["--no-progress"]
    assert main([*argv, "--top-k-rerank", "3", "--format", "rank_llm"]) == 0
    (line,) = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert line["query"] == {"text": "a query", "qid": "7"}
    assert len(line["candidates"]) == 3
    assert set(line["candidates"][0]) == {"docid", "score", "doc"}
    assert line["candidates"][0]["doc"]["text"].startswith("t ")
    history = line["invocations_history"]
    assert history and history[0]["prompt"][0]["role"] == "system"
    assert isinstance(history[0]["response"], str) and history[0]["input_token_count"] > 0
    # the stand-in ranks in reverse: the top 3 of the reversed five
    assert [c["docid"] for c in line["candidates"]] == ["d4", "d3", "d2"]
    assert main([*argv, "--top-k-rerank", "0", "--no-resume"]) != 0
    server.stop()


def test_few_shot_examples_go_after_the_system_message(tmp_path: Path) -> None:
    examples = [
        {
            "conversations": [
                {"role": "user", "value": "ex1 q"},
                {"role": "assistant", "value": "[1]"},
            ]
        },
        {
            "conversations": [
                {"role": "user", "value": "ex2 q"},
                {"role": "assistant", "value": "[2]"},
            ]
        },
    ]
    path = tmp_path / "shots.json"
    path.write_text(json.dumps(examples), encoding="utf-8")
    method = PermutationMethod(
        FakeBackend(), template="rank_llm_zephyr", few_shot_file=str(path), few_shot=1
    )
    rendered = method.template.render("q", ["a", "b"])
    roles = [m["role"] for m in rendered.messages]
    assert roles == ["system", "user", "assistant", "user"]
    assert rendered.messages[1]["content"] == "ex1 q" and rendered.messages[2]["content"] == "[1]"
    with pytest.raises(ConfigError, match="few_shot_file"):
        PermutationMethod(FakeBackend(), few_shot=1)
    path.write_text('{"not": "a list"}', encoding="utf-8")
    with pytest.raises(ConfigError, match="JSON array"):
        PermutationMethod(FakeBackend(), few_shot_file=str(path), few_shot=1)
