"""Load test of the rerank service from loopback: N requests at concurrency C (httpx async)
against a real uvicorn server.

Every request carries documents with a unique marker and a shuffled grade; the fake judge
ranks by grade, so each response must come back as exactly that request's documents in grade
order. Anything else is counted as lost or mixed. A second run with a tiny queue shows the
deliberate 503 + Retry-After refusals. ``--embedded N`` adds N requests on the real embedded
model. The server runs in a thread of this process, so client and server share one
interpreter: the numbers are a floor for the service, not a ceiling.

    python -m benchmarks.serve_load [--requests 500] [--concurrency 16] [--delay-ms 5]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import uvicorn

from listrank.backends.base import GenerationRequest
from listrank.backends.fake import FakeBackend
from listrank.pipeline.reranker import Reranker
from listrank.server import ServerSettings, create_app

_PASSAGE = re.compile(r"^\[(\d+)\] (.*)$", re.S)
_GRADE = re.compile(r"grade=(\d+)")
DOCS_PER_REQUEST = 8


def graded_judge(delay_s: float) -> Callable[[GenerationRequest], str]:
    def judge(request: GenerationRequest) -> str:
        time.sleep(delay_s)  # stands in for the model's time on one block
        found = [
            (m.group(1), int(g.group(1)) if (g := _GRADE.search(m.group(2))) else 0)
            for msg in request.messages
            if msg["role"] == "user" and (m := _PASSAGE.match(msg["content"]))
        ]
        return " > ".join(f"[{i}]" for i, _ in sorted(found, key=lambda f: -f[1]))

    return judge


@contextmanager
def serving(reranker: Reranker, settings: ServerSettings) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(reranker, settings), log_level="error", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@dataclass
class Outcome:
    name: str
    requests: int
    concurrency: int
    queue_size: int
    wall_s: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    lost_or_mixed: int = 0
    retry_after_ok: bool = True

    def count(self, key: str) -> None:
        self.statuses[key] = self.statuses.get(key, 0) + 1


def make_request(i: int, rng: random.Random) -> tuple[dict[str, object], list[int]]:
    grades = rng.sample(range(100), DOCS_PER_REQUEST)
    docs = [f"request {i} marker R{i}D{j}X grade={g}" for j, g in enumerate(grades)]
    expected = sorted(range(DOCS_PER_REQUEST), key=lambda j: -grades[j])
    body = {"query": f"query {i}", "documents": docs, "return_documents": True}
    return body, expected


def check(body: dict[str, object], expected: list[int], data: dict[str, object]) -> bool:
    docs = body["documents"]
    results = data.get("results")
    if not isinstance(docs, list) or not isinstance(results, list):
        return False
    if [r["index"] for r in results] != expected:
        return False
    return all(r["document"]["text"] == docs[r["index"]] for r in results)


Maker = Callable[[int, random.Random], tuple[dict[str, object], list[int]]]
Checker = Callable[[dict[str, object], list[int], dict[str, object]], bool]


async def load(
    url: str, out: Outcome, seed: int = 0, make: Maker | None = None, verify: Checker | None = None
) -> None:
    """``out.requests`` requests from ``out.concurrency`` clients, each posting its next
    request as soon as its last one is answered; ``make`` builds a request and the answer
    ``verify`` expects (default: ``make_request`` and ``check``)."""
    rng = random.Random(seed)
    verify = verify or check
    work = [(make or make_request)(i, rng) for i in range(out.requests)]
    next_item = iter(work)
    limits = httpx.Limits(max_connections=out.concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=300) as client:

        async def worker() -> None:
            for body, expected in next_item:
                start = time.perf_counter()
                try:
                    resp = await client.post("/v1/rerank", json=body)
                except httpx.HTTPError as exc:
                    out.count(type(exc).__name__)
                    continue
                elapsed = (time.perf_counter() - start) * 1000
                out.count(str(resp.status_code))
                if resp.status_code == 200:
                    out.latencies_ms.append(elapsed)
                    if not verify(body, expected, resp.json()):
                        out.lost_or_mixed += 1
                elif resp.status_code == 503:
                    out.retry_after_ok &= int(resp.headers.get("retry-after", "0")) >= 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(out.concurrency)))
        out.wall_s = time.perf_counter() - start


def run_variant(
    name: str, reranker: Reranker, requests: int, concurrency: int, queue_size: int
) -> Outcome:
    out = Outcome(name, requests, concurrency, queue_size)
    with serving(reranker, ServerSettings(queue_size=queue_size)) as url:
        asyncio.run(load(url, out))
    return out


def print_table(rows: list[Outcome]) -> None:
    head = (
        f"{'variant':<26}{'reqs':>6}{'conc':>6}{'queue':>7}{'200':>6}{'503':>6}{'other':>7}"
        f"{'lost/mixed':>12}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
    )
    print(head)
    print("-" * len(head))
    for o in rows:
        ok = o.statuses.get("200", 0)
        busy = o.statuses.get("503", 0)
        other = sum(v for k, v in o.statuses.items() if k not in ("200", "503"))
        lat = sorted(o.latencies_ms)
        p50 = statistics.median(lat) if lat else float("nan")
        p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else float("nan")
        print(
            f"{o.name:<26}{o.requests:>6}{o.concurrency:>6}{o.queue_size:>7}{ok:>6}{busy:>6}"
            f"{other:>7}{o.lost_or_mixed:>12}{o.requests / o.wall_s:>9.1f}{p50:>9.1f}{p95:>9.1f}"
        )
    bad = [o.name for o in rows if o.lost_or_mixed or not o.retry_after_ok]
    other_total = sum(v for o in rows for k, v in o.statuses.items() if k not in ("200", "503"))
    print(
        f"\nchecks: lost/mixed results 0: {'yes' if not bad else 'NO ' + str(bad)}; "
        f"failures other than deliberate 503: {other_total}; "
        f"every 503 had Retry-After >= 1: {all(o.retry_after_ok for o in rows)}"
    )


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.serve_load")
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--delay-ms", type=float, default=5.0, help="fake model time per block")
    p.add_argument("--embedded", type=int, default=0, help="requests on the embedded model")
    args = p.parse_args(argv)
    delay = args.delay_ms / 1000

    def fake() -> Reranker:
        return Reranker(backend=FakeBackend(responder=graded_judge(delay)), window=20)

    rows = [
        run_variant("fake, roomy queue", fake(), args.requests, args.concurrency, 64),
        run_variant("fake, queue of 4 (503s)", fake(), args.requests, args.concurrency, 4),
    ]
    if args.embedded:
        # the real model ranks by its own judgement, so only completeness is checkable:
        # every index once (check() would count disagreements with the grades as mixed)
        rows.append(run_embedded(args.embedded, min(args.concurrency, 4)))
    print(f"{DOCS_PER_REQUEST} documents per request, fake judge delay {args.delay_ms} ms/block")
    print_table(rows)
    return 0


def run_embedded(requests: int, concurrency: int) -> Outcome:
    reranker = Reranker(backend="hf", strategy="single", max_passage_words=20)
    out = Outcome("embedded SmolLM2-135M", requests, concurrency, 64)
    rng = random.Random(1)
    work = [make_request(i, rng) for i in range(requests)]

    async def go(url: str) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=600) as client:
            it = iter(work)

            async def worker() -> None:
                for body, _ in it:
                    start = time.perf_counter()
                    resp = await client.post("/v1/rerank", json=body)
                    out.count(str(resp.status_code))
                    if resp.status_code != 200:
                        continue
                    out.latencies_ms.append((time.perf_counter() - start) * 1000)
                    results = resp.json()["results"]
                    docs = body["documents"]
                    assert isinstance(docs, list)
                    complete = sorted(r["index"] for r in results) == list(range(len(docs)))
                    echoed = all(r["document"]["text"] == docs[r["index"]] for r in results)
                    out.lost_or_mixed += not (complete and echoed)

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            out.wall_s = time.perf_counter() - start

    with serving(reranker, ServerSettings(queue_size=64)) as url:
        asyncio.run(go(url))
    return out


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
