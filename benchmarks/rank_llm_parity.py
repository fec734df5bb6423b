"""listrank side by side with rank_llm's own code: parsing, window plans, prompts on the wire, and
end-to-end orders.

Needs a checkout of castorini/rank_llm (its ``src/`` is imported at run time, nothing is copied):
``python -m benchmarks rank_llm_parity /path/to/rank_llm`` (or set RANK_LLM_CHECKOUT). Without
one it prints "skipped". rank_llm's GPU parts are never touched: its sliding-window loop,
prompt handlers and answer repair run as they are, with the model replaced by the same answer
function that a loopback server plays for listrank.

1. parsing: >= 2,000 generated answers of every kind (clean, prose with digits, closed and
   unclosed <think>, <answer> tags, cut inside the last id, duplicates / out of range,
   superscript, fullwidth, circled and other digit forms, letters) through rank_llm's
   ``receive_permutation`` and listrank's ``parse_permutation`` in each mode;
2. window plans for N = 15..100 (20/10): rank_llm's ``_sliding_windows_batched_async`` against
   ``SlidingWindow(last_window=...)``;
3. every message of 10 DL19 queries x 20 and x 100 for each rank_llm-current preset: rank_llm's
   ``generate_prompt`` against what listrank sent to a logging loopback server;
4. end to end, 20 queries x 100 with clean, prose-wrapped and <think>-wrapped answers: rank_llm's
   final order against listrank's ``rank_llm_zephyr`` preset.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import io
import os
import random
import re
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from listrank.backends.openai import OpenAIBackend
from listrank.methods.permutation import PermutationMethod
from listrank.pipeline.reranker import Reranker
from listrank.prompting.parsing import parse_permutation
from listrank.prompting.presets import load_preset
from listrank.runs.io import Request, read_requests
from listrank.strategies.window import SlidingWindow
from listrank.types import Candidate, Query
from tests.support.fake_openai import FakeOpenAIServer

DL19 = "trec-dl19-passage/dl19.bm25.top100.normalized.jsonl"
# listrank preset -> rank_llm template file
PRESETS = {
    "rank_llm_zephyr": "rank_zephyr_template.yaml",
    "rank_llm_vicuna": "rank_zephyr_template.yaml",
    "rank_llm_first": "rank_zephyr_alpha_template.yaml",
    "rank_llm_gpt": "rank_gpt_template.yaml",
    "apeer": "rank_gpt_apeer_template.yaml",
    "lrl": "rank_lrl_template.yaml",
    "insert_rank": "insert_rank_template.yaml",
    "reasonrank": "reasonrank_template.yaml",
}


# -- rank_llm, imported from the checkout ----------------------------------------------------
def load_rank_llm(checkout: Path) -> types.SimpleNamespace:
    """rank_llm's modules, imported from ``checkout/src`` without running the package
    ``__init__`` of ``rank_llm.rerank`` (it pulls in every model backend)."""
    src = checkout / "src"
    sys.path.insert(0, str(src))
    for name in ("rank_llm.rerank", "rank_llm.rerank.listwise"):
        if name not in sys.modules:
            pkg = types.ModuleType(name)
            pkg.__path__ = [str(src / name.replace(".", "/"))]
            sys.modules[name] = pkg
    import yaml
    from rank_llm import data  # type: ignore[import-not-found]
    from rank_llm.rerank.listwise import (  # type: ignore[import-not-found]
        listwise_rankllm,
        multiturn_listwise_inference_handler,
        singleturn_listwise_inference_handler,
    )

    def handler(template_file: str) -> Any:
        path = src / "rank_llm/rerank/prompt_templates" / template_file
        template = yaml.safe_load(path.read_text(encoding="utf-8"))
        if template["method"] == "multiturn_listwise":
            return multiturn_listwise_inference_handler.MultiTurnListwiseInferenceHandler(template)
        return singleturn_listwise_inference_handler.SingleTurnListwiseInferenceHandler(template)

    return types.SimpleNamespace(
        data=data, ListwiseRankLLM=listwise_rankllm.ListwiseRankLLM, handler=handler
    )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


class RankLLMDriver:
    """rank_llm's own sliding-window loop and repair (methods of ListwiseRankLLM bound to this
    object), with the model replaced by ``answer`` over the prompt messages."""

    def __init__(
        self,
        rl: types.SimpleNamespace,
        template_file: str,
        answer: Callable[[list[dict[str, str]]], str],
        *,
        use_alpha: bool = False,
        window: int = 20,
        stride: int = 10,
    ) -> None:
        cls = rl.ListwiseRankLLM
        self.rl, self.answer = rl, answer
        self._stride, self._window_size, self._batch_size = stride, window, 1
        self._use_alpha = use_alpha
        with _quiet():  # "Template validated successfully!"
            self._inference_handler = rl.handler(template_file)
        self._llm_concurrency_sem = None
        self.prompts: list[list[dict[str, str]]] = []
        self.windows: list[tuple[int, int]] = []
        for name in (
            "_get_llm_concurrency_sem",
            "_apply_llm_output_to_result",
            "receive_permutation",
            "_remove_duplicate",
            "_sliding_windows_batched_async",
        ):
            setattr(self, name, types.MethodType(getattr(cls, name), self))
        self._count_windows = cls._count_windows

    def create_prompt(self, result: Any, rank_start: int, rank_end: int) -> tuple[Any, int]:
        messages = self._inference_handler.generate_prompt(
            result=result,
            rank_start=rank_start,
            rank_end=rank_end,
            max_length=300,
            use_alpha=self._use_alpha,
            num_fewshot_examples=0,
            fewshot_examples=[],
        )
        self.windows.append((rank_start, rank_end))
        self.prompts.append(messages)
        return messages, 0

    async def run_llm_async(self, prompt: Any, current_window_size: int | None = None) -> tuple:
        return self.answer(prompt), "", {"prompt_tokens": 0, "completion_tokens": 0}

    def rerank(self, query: Query, candidates: Sequence[Candidate], depth: int) -> list[str]:
        d = self.rl.data
        cands = [
            d.Candidate(docid=c.docid, score=c.score or 0.0, doc={"text": c.text})
            for c in candidates[:depth]
        ]
        request = d.Request(query=d.Query(text=query.text, qid=query.qid), candidates=cands)
        coro = self._sliding_windows_batched_async([request], 0, depth, depth)  # type: ignore[attr-defined]
        with _quiet():  # rank_llm's progress bars
            (result,) = asyncio.run(coro)
        return [str(c.docid) for c in result.candidates]

    def order(self, text: str, n: int) -> list[int]:
        """rank_llm's receive_permutation on a block of n: positions, best first."""
        d = self.rl.data
        cands = [d.Candidate(docid=str(i), score=0.0, doc={"text": ""}) for i in range(n)]
        result = d.Result(query=d.Query(text="q", qid="q"), candidates=cands)
        out = self.receive_permutation(result, text, 0, n)  # type: ignore[attr-defined]
        return [int(c.docid) for c in out.candidates]


# -- generated answers -----------------------------------------------------------------------
SUPER = "⁰¹²³⁴⁵⁶⁷⁸⁹"
FULL = "０１２３４５６７８９"
CIRCLED = "⓪①②③④⑤⑥⑦⑧⑨"


def _ids(rng: random.Random, n: int, alpha: bool) -> list[str]:
    order = rng.sample(range(1, n + 1), rng.randint(max(1, n - 3), n))
    return [chr(64 + i) for i in order] if alpha else [str(i) for i in order]


def _chain(ids: list[str]) -> str:
    return " > ".join(f"[{i}]" for i in ids)


def _map(text: str, digits: str) -> str:
    return "".join(digits[int(c)] if c.isdigit() else c for c in text)


KINDS: dict[str, Callable[[random.Random, int], tuple[str, bool]]] = {
    "clean": lambda r, n: (_chain(_ids(r, n, False)), False),
    "prose": lambda r, n: (
        f"Sure! Here is the ranking of the {n} passages, {r.randint(2, 5)} of them key:\n"
        + _chain(_ids(r, n, False))
        + f"\nPassage {r.randint(1, n)} is clearly best.",
        False,
    ),
    "think_closed": lambda r, n: (
        f"<think>passage [{r.randint(1, n)}] mentions {r.randint(2, 9)} facts</think>\n"
        + _chain(_ids(r, n, False)),
        False,
    ),
    "think_unclosed": lambda r, n: (
        f"<think>passage [{r.randint(1, n)}] looks good, and [{r.randint(1, n)}]",
        False,
    ),
    "think_twice": lambda r, n: (
        f"<think>a</think>[{r.randint(1, n)}]<think>b</think>" + _chain(_ids(r, n, False)),
        False,
    ),
    "answer_tags": lambda r, n: (
        f"<think>{r.randint(1, n)} first</think>\n<answer>{_chain(_ids(r, n, False))}</answer>",
        False,
    ),
    "cut_last_id": lambda r, n: (_chain(_ids(r, n, False))[: -r.randint(1, 3)], False),
    "dup_out_of_range": lambda r, n: (
        _chain([*_ids(r, n, False)[:5], "0", str(n + r.randint(1, 50)), "1", "1"]),
        False,
    ),
    "superscript": lambda r, n: (_map(_chain(_ids(r, n, False)), SUPER), False),
    "fullwidth": lambda r, n: (
        _map(_chain(_ids(r, n, False)), FULL).replace("[", "［").replace("]", "］"),
        False,
    ),
    "circled": lambda r, n: (_map(_chain(_ids(r, min(n, 9), False)), CIRCLED), False),
    "other_digits": lambda r, n: (_map(_chain(_ids(r, n, False)), "٠١٢٣٤٥٦٧٨٩"), False),
    "letters": lambda r, n: (_chain(_ids(r, min(n, 20), True)), True),
    "letters_prose": lambda r, n: (f"Ranking: {_chain(_ids(r, min(n, 20), True))}", True),
    "empty": lambda r, n: (r.choice(["", "I cannot rank these.", "none"]), False),
}


def parsing_table(rl: types.SimpleNamespace, per_kind: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    numeric = RankLLMDriver(rl, "rank_zephyr_template.yaml", lambda m: "")
    alpha = RankLLMDriver(rl, "rank_zephyr_alpha_template.yaml", lambda m: "", use_alpha=True)
    rows = []
    totals = {"rank_llm": 0, "listrank": 0, "rankgpt": 0}
    count = 0
    for kind, make in KINDS.items():
        bad = {"rank_llm": 0, "listrank": 0, "rankgpt": 0}
        for _ in range(per_kind):
            n = rng.choice([2, 5, 10, 20, 20, 20])
            text, is_alpha = make(rng, n)
            n = min(n, 20) if is_alpha else n
            driver = alpha if is_alpha else numeric
            want = driver.order(text, n)
            scheme = "alpha" if is_alpha else "numeric"
            for mode in bad:
                got = parse_permutation(text, n, identifiers=scheme, mode=mode).order
                bad[mode] += int(got != want)
        count += per_kind
        for mode in bad:
            totals[mode] += bad[mode]
        rows.append(
            f"{kind:<18}{per_kind:>8}{bad['rank_llm']:>10}{bad['listrank']:>10}{bad['rankgpt']:>10}"
        )
    head = f"{'answers':<18}{'n':>8}{'rank_llm':>10}{'listrank':>10}{'rankgpt':>10}"
    total = (
        f"{'all':<18}{count:>8}{totals['rank_llm']:>10}{totals['listrank']:>10}"
        f"{totals['rankgpt']:>10}"
    )
    return "\n".join(["disagreements with rank_llm's repair, by parse mode", head, *rows, total])


# -- window plans ----------------------------------------------------------------------------
def windows_table(rl: types.SimpleNamespace) -> str:
    equal = {"rank_llm": 0, "full": 0}
    ns = range(15, 101)
    for n in ns:
        driver = RankLLMDriver(rl, "rank_zephyr_template.yaml", lambda m: "")
        driver.rerank(Query("q"), [Candidate(str(i), "x") for i in range(n)], n)
        for rule in equal:
            spans = SlidingWindow(window=20, step=10, last_window=rule).spans(n)
            equal[rule] += int(spans == driver.windows)
    return (
        f"window plans equal to rank_llm's (20/10, N = 15..100, {len(ns)} sizes): "
        f"last_window=rank_llm {equal['rank_llm']}/{len(ns)}, "
        f"listrank's default {equal['full']}/{len(ns)}"
    )


# -- prompts on the wire and end-to-end orders -----------------------------------------------
_LINE = re.compile(r"^(?:\[([0-9A-Z]+)\]|PASSAGE(\d+) =) (.*)$", re.MULTILINE)


def shown(messages: list[dict[str, str]]) -> list[tuple[str, str]]:
    """(identifier, text) of every passage line of the user turns."""
    out = []
    for m in messages:
        if m["role"] == "user":
            out += [(a or b, t) for a, b, t in _LINE.findall(m["content"])]
    return out


def ranked_answer(style: str) -> Callable[[list[dict[str, str]]], str]:
    """A deterministic judge: passages by a hash of their text, in ``style``."""

    def answer(messages: list[dict[str, str]]) -> str:
        items = shown(messages)
        best = sorted(items, key=lambda it: hashlib.sha256(it[1].encode()).hexdigest())
        chain = " > ".join(f"[{i}]" for i, _ in best)
        if style == "prose":
            return f"Here is my ranking of the {len(items)} passages:\n{chain}\nHope it helps!"
        if style == "think":
            return f"<think>Passage [{best[-1][0]}] is off topic; 2 are close.</think>\n{chain}"
        return chain

    return answer


def identity(messages: list[dict[str, str]]) -> str:
    return " > ".join(f"[{i}]" for i, _ in shown(messages))


def _listrank_run(
    preset: str, requests: list[Request], depth: int, answer: Callable[..., str]
) -> tuple[list[list[dict[str, Any]]], list[list[str]]]:
    p = load_preset(preset)
    with FakeOpenAIServer(responder=lambda path, body: answer(body["messages"])) as server:
        backend = OpenAIBackend(
            "parity-judge", base_url=server.url, api_key="none", context_length=1_000_000
        )
        options = {k: v for k, v in p.method.items() if k not in ("name", "template")}
        method = PermutationMethod(backend, template=p.template, **options)
        strategy = SlidingWindow(window=20, step=10, last_window="rank_llm")
        reranker = Reranker(backend, method=method, strategy=strategy)
        orders = [reranker.rerank(r.query, list(r.candidates[:depth])).docids for r in requests]
        backend.close()
        return [s.body["messages"] for s in server.requests], orders


def messages_table(rl: types.SimpleNamespace, requests: list[Request]) -> str:
    rows = [f"{'preset':<18}{'x20 equal':>12}{'x100 equal':>12}"]
    for preset, template_file in PRESETS.items():
        cells = []
        for depth in (20, 100):
            alpha = preset == "rank_llm_first"
            driver = RankLLMDriver(rl, template_file, identity, use_alpha=alpha)
            for r in requests:
                driver.rerank(r.query, r.candidates, depth)
            ours, _ = _listrank_run(preset, requests, depth, identity)
            theirs = driver.prompts
            same = sum(1 for a, b in zip(ours, theirs, strict=False) if a == b)
            cells.append(f"{same}/{len(theirs)}" + ("" if len(ours) == len(theirs) else "*"))
        rows.append(f"{preset:<18}{cells[0]:>12}{cells[1]:>12}")
    return "messages byte for byte (10 DL19 queries; * = call counts differ)\n" + "\n".join(rows)


def orders_table(rl: types.SimpleNamespace, requests: list[Request]) -> str:
    rows = [f"{'answers':<10}{'rank_llm_zephyr':>18}"]
    for style in ("clean", "prose", "think"):
        answer = ranked_answer(style)
        driver = RankLLMDriver(rl, "rank_zephyr_template.yaml", answer)
        theirs = [driver.rerank(r.query, r.candidates, 100) for r in requests]
        _, ours = _listrank_run("rank_llm_zephyr", requests, 100, answer)
        same = sum(1 for a, b in zip(ours, theirs, strict=True) if a == b)
        rows.append(f"{style:<10}{f'{same}/{len(requests)}':>18}")
    return f"end-to-end orders equal ({len(requests)} DL19 queries x 100)\n" + "\n".join(rows)


def shared_data() -> Path | None:
    if os.environ.get("LISTRANK_SHARED_DATA"):
        return Path(os.environ["LISTRANK_SHARED_DATA"])
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return None


def _tables(rl: types.SimpleNamespace, per_kind: int) -> Iterator[str]:
    yield parsing_table(rl, per_kind)
    yield windows_table(rl)
    data = shared_data()
    if data is None or not (data / DL19).exists():
        yield "prompts and orders: skipped (DL19 not found; set LISTRANK_SHARED_DATA)"
        return
    requests = read_requests(data / DL19)
    yield messages_table(rl, requests[:10])
    yield orders_table(rl, requests[:20])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("checkout", nargs="?", default=os.environ.get("RANK_LLM_CHECKOUT"))
    parser.add_argument("--per-kind", type=int, default=150, help="answers per kind")
    args = parser.parse_args(argv)
    if not args.checkout or not (Path(args.checkout) / "src" / "rank_llm").is_dir():
        print("skipped: no rank_llm checkout (pass its path or set RANK_LLM_CHECKOUT)")
        return 0
    rl = load_rank_llm(Path(args.checkout))
    for table in _tables(rl, args.per_kind):
        print(table, "\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
