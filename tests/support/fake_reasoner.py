"""A loopback stand-in for a thinking model behind an OpenAI-compatible chat API.

It thinks ``think_tokens`` tokens (one whitespace-separated word each) before it answers with
the text its ``responder`` gives (by default the identifiers in reverse), and honours the
request's token limit (``max_tokens`` or ``max_completion_tokens``) as a real server does: a
limit inside the thought ends the call with finish_reason "length" and no answer.
``style="text"`` writes the thought as ``<think>…</think>`` in the content; ``style="field"``
reports it in ``reasoning_content`` with ``completion_tokens_details.reasoning_tokens`` (a vLLM
server with a reasoning parser).

A request whose last message is an assistant turn with ``continue_final_message`` continues
it: when that turn already closed its thought, the model answers at once (a forced answer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support.fake_openai import FakeOpenAIServer


@dataclass
class FakeReasoner(FakeOpenAIServer):
    think_tokens: int = 50
    style: str = "text"

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not path.endswith("/chat/completions"):
            return super().answer(path, body)
        limit = int(body.get("max_completion_tokens") or body.get("max_tokens") or 10**9)
        messages = body.get("messages", [])
        last = messages[-1] if messages else {}
        continuing = bool(body.get("continue_final_message")) and last.get("role") == "assistant"
        answer_words = self.responder(path, body).split()
        thought_words = [f"step{i}" for i in range(self.think_tokens)]
        if continuing and "</think>" in str(last.get("content", "")):
            thought_words = []  # the thought is closed: only the answer is left to write
        reasoning = thought_words[:limit]
        answer = answer_words[: max(0, limit - len(thought_words))]
        cut = len(reasoning) + len(answer) < len(thought_words) + len(answer_words)
        if self.style == "field" or not reasoning:
            content, reasoning_field = " ".join(answer), " ".join(reasoning)
        else:
            closed = len(reasoning) == len(thought_words)
            content = "<think>" + " ".join(reasoning) + ("</think>" if closed else "")
            content += " ".join(answer)
            reasoning_field = ""
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if reasoning_field:
            message["reasoning_content"] = reasoning_field
        usage: dict[str, Any] = {
            "prompt_tokens": sum(len(str(m.get("content", "")).split()) for m in messages),
            "completion_tokens": len(reasoning) + len(answer),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if self.style == "field":
            usage["completion_tokens_details"] = {"reasoning_tokens": len(reasoning)}
        choice = {"index": 0, "message": message, "finish_reason": "length" if cut else "stop"}
        return 200, {
            "id": f"reasoner-{len(self.requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "fake"),
            "choices": [choice],
            "usage": usage,
        }
