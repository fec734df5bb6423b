"""A JointRank-like stage over the OpenAI backend: b independent blocks judged in ONE
``method.judge`` call against a fixed-latency loopback stand-in server. With concurrency >= b
the stage should take about one call's time; the target is stage / slowest call <= 1.3.

    python -m benchmarks.api_concurrency [--latency 0.5] [--llama]

``--llama`` also measures a real llama.cpp server (llama-cpp-python, started on loopback) with
the embedded SmolLM2: it answers one request at a time, so concurrency buys no speed there.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from listrank.backends.openai import OpenAIBackend
from listrank.methods.permutation import PermutationMethod
from listrank.types import Candidate, Query
from tests.support.fake_openai import FakeOpenAIServer

TARGET = 1.3
BLOCK = 20


def blocks(b: int, tag: str) -> list[list[Candidate]]:
    return [
        [
            Candidate(f"{tag}{k}-{i}", f"passage {i} of block {k} about topic {tag}")
            for i in range(BLOCK)
        ]
        for k in range(b)
    ]


def stage(url: str, b: int, concurrency: int, tag: str) -> tuple[float, float, int]:
    backend = OpenAIBackend("stand-in", base_url=url, concurrency=concurrency, timeout=30)
    method = PermutationMethod(backend, template="rankgpt_single")
    method.judge(Query("warm up"), blocks(1, "w"))  # connection pool and imports
    backend.usage.reset()
    start = time.perf_counter()
    judged = method.judge(Query(f"query {tag}"), blocks(b, tag))
    elapsed = time.perf_counter() - start
    slowest = max(j.record.latency_s for j in judged)
    backend.close()
    return elapsed, slowest, backend.usage.attempts


def run_stand_in(latency: float) -> list[dict[str, Any]]:
    rows = []
    with FakeOpenAIServer(latency_s=latency) as server:
        for b, conc in ((4, 4), (8, 8), (16, 16), (32, 32), (64, 64), (16, 4)):
            elapsed, slowest, attempts = stage(server.url, b, conc, f"b{b}c{conc}")
            rows.append(
                {"blocks": b, "concurrency": conc, "stage_s": elapsed, "slowest_s": slowest,
                 "ratio": elapsed / slowest, "attempts": attempts}
            )  # fmt: skip
    return rows


def print_table(rows: list[dict[str, Any]], latency: float) -> None:
    print(f"JointRank-like stage over the API, stand-in server with {latency:g} s per call")
    print(
        f"{'blocks':>6} {'concurrency':>11} {'stage s':>8} {'slowest s':>9} {'ratio':>6} "
        f"{'stage/latency':>13}  ok"
    )
    for r in rows:
        bound = r["concurrency"] >= r["blocks"]
        verdict = ("yes" if r["ratio"] <= TARGET else "NO") if bound else "(bounded)"
        print(
            f"{r['blocks']:>6} {r['concurrency']:>11} {r['stage_s']:>8.3f} "
            f"{r['slowest_s']:>9.3f} {r['ratio']:>6.2f} {r['stage_s'] / latency:>13.2f}  {verdict}"
        )
    print(f"target: stage / slowest call <= {TARGET} whenever concurrency >= blocks")


def run_llama() -> None:
    from listrank.backends.base import GenerationRequest
    from tests.support import llama_server

    if not llama_server.llama_cpp_available():
        print("llama-cpp-python[server] not installed: skipping the real-server numbers")
        return
    server = llama_server.start()
    try:
        msgs: Any = [{"role": "user", "content": "Name three fruits, comma separated."}]
        print("\nreal llama.cpp server (SmolLM2-135M Q4_1, 2 threads), 8 chat calls of 24 tokens")
        print(f"{'concurrency':>11} {'wall s':>7} {'calls/s':>8} {'gen tok/s':>9}")
        for conc in (1, 4, 8):
            backend = OpenAIBackend(
                llama_server.ALIAS, base_url=server.url, concurrency=conc, timeout=300,
                extra_body={"repeat_penalty": 1.0, "ignore_eos": True},
            )  # fmt: skip
            backend.generate([GenerationRequest(msgs, 4)])
            backend.usage.reset()
            start = time.perf_counter()
            backend.generate([GenerationRequest(msgs, 24) for _ in range(8)])
            wall = time.perf_counter() - start
            tokens = backend.usage.completion_tokens
            print(f"{conc:>11} {wall:>7.2f} {8 / wall:>8.2f} {tokens / wall:>9.1f}")
            backend.close()
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--llama", action="store_true", help="also measure a real llama.cpp server")
    args = parser.parse_args(argv)
    print_table(run_stand_in(args.latency), args.latency)
    if args.llama:
        run_llama()


if __name__ == "__main__":
    main()
