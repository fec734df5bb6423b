"""Load test of the rerank service from loopback: N requests at concurrency C (httpx async)
against a real uvicorn server.

Every request carries documents with a unique marker and a shuffled grade; the fake judge
ranks by grade, so each response must come back as exactly that request's documents in grade
order. Anything else is counted as lost or mixed. A second run with a tiny queue shows the
deliberate 503 + Retry-After refusals. ``--embedded N`` adds N requests on the real embedded
model. The server runs in a thread of this process, so client and server share one
interpreter: the numbers are a floor for the service, not a ceiling.

``serve_process`` and ``sustain`` measure the other way (the throughput benchmark's serve
rows): ``listrank serve`` in its own process, closed-loop clients posting pre-serialised
bodies, a warm-up (every client's first request) and then a fixed window in which completions,
latencies and each process's CPU are counted.

    python -m benchmarks.serve_load [--requests 500] [--concurrency 16] [--delay-ms 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

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


# -- sustained load on ``listrank serve`` in its own process ------------------------------
def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, every thread included (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores (/proc/stat)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


@contextmanager
def serve_process(argv: Sequence[str], timeout_s: float = 120.0) -> Iterator[tuple[str, int]]:
    """``python -m listrank serve ARGV`` on a free loopback port, in its own process as it is
    deployed (the load generator does not share its interpreter); yields its URL and pid once
    ``/health`` answers. Its log goes to a temporary file, shown if it fails to start."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cmd = [sys.executable, "-m", "listrank", "serve", *argv, "--port", str(port)]
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"listrank serve did not start:\n{log.read()[-2000:]}")
                try:
                    if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            yield url, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class Sustained:
    """One closed-loop run: every client posts its next request when answered. The warm-up
    lasts until every client has had its first answer (cold connections, the first burst);
    the window of ``window_s`` seconds after it is what is measured."""

    clients: int
    window_s: float
    warmup_s: float = 0.0
    done: float = 0.0
    """Requests answered 200 in the window, each counted by the share of its time inside it
    (``completions_in``)."""
    latencies_ms: list[float] = field(default_factory=list)
    """Of the requests answered within the window."""
    statuses: dict[str, int] = field(default_factory=dict)
    """Every answer of the run, warm-up included (a 503 in the first burst counts)."""
    wrong: int = 0
    """Answers (any phase) that were not exactly the request's expected result."""
    cpu_s: dict[str, float] = field(default_factory=dict)
    """CPU seconds each watched process used within the window."""
    machine_busy_s: float = 0.0
    """CPU seconds the whole machine (every process, all cores) was busy in the window."""

    @property
    def rate(self) -> float:
        return self.done / self.window_s

    def percentile_ms(self, q: float) -> float:
        lat = sorted(self.latencies_ms)
        return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")

    def cpu_ms_per_request(self, name: str) -> float:
        return 1000 * self.cpu_s[name] / max(1.0, self.done)


Body = tuple[bytes, dict[str, object], list[int]]
"""A pre-serialised request, the request itself and the answer its checker expects."""


Span = tuple[float, float, int]
"""One request: (sent, answered, status)."""


def answered_in(spans: Sequence[Span], start: float, end: float) -> list[float]:
    """Latencies (ms) of the requests answered 200 within [start, end]."""
    return [(b - a) * 1000 for a, b, code in spans if code == 200 and start <= b <= end]


def completions_in(spans: Sequence[Span], start: float, end: float) -> float:
    """Requests answered 200, counting each by the share of its time that lies in
    [start, end]. Closed-loop clients finish in step (every request takes about as long), so
    counting whole answers in a window would count a whole round or none of it depending on
    where the window falls; the shares add up to window / latency per client wherever it
    falls."""
    total = 0.0
    for a, b, code in spans:
        if code == 200 and b > a:
            total += max(0.0, min(b, end) - max(a, start)) / (b - a)
    return total


async def sustain(
    url: str,
    clients: int,
    window_s: float,
    bodies: Sequence[Body],
    verify: Checker,
    watch: Mapping[str, int],
) -> Sustained:
    """``clients`` closed-loop clients; client c posts bodies c, c + clients, ... (cycling).
    Bodies are serialised beforehand and answers checked after the run, so the load generator
    spends its CPU on HTTP only; ``watch`` names the processes whose CPU is reported."""
    out = Sustained(clients, window_s)
    finished: list[Span] = []
    answers: list[tuple[int, bytes]] = []
    first_answers = 0
    warm = asyncio.Event()
    stop_at = float("inf")
    headers = {"content-type": "application/json"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=300) as client:

        async def one_client(c: int) -> None:
            nonlocal first_answers
            k = c
            while time.perf_counter() < stop_at:
                raw = bodies[k % len(bodies)][0]
                sent = time.perf_counter()
                try:
                    resp = await client.post("/v1/rerank", content=raw, headers=headers)
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                    out.statuses[key] = out.statuses.get(key, 0) + 1
                    code = 0
                else:
                    code = resp.status_code
                    key = str(code)
                    out.statuses[key] = out.statuses.get(key, 0) + 1
                    if code == 200:
                        answers.append((k % len(bodies), resp.content))
                finished.append((sent, time.perf_counter(), code))
                if k == c:
                    first_answers += 1
                    if first_answers == clients:
                        warm.set()
                k += clients

        async def window() -> tuple[float, float]:
            nonlocal stop_at
            await warm.wait()
            start = time.perf_counter()
            cpu0 = {name: cpu_seconds(pid) for name, pid in watch.items()}
            busy0 = machine_cpu()[0]
            stop_at = start + window_s
            await asyncio.sleep(window_s)
            out.cpu_s = {name: cpu_seconds(pid) - cpu0[name] for name, pid in watch.items()}
            out.machine_busy_s = machine_cpu()[0] - busy0
            return start, start + window_s

        t0 = time.perf_counter()
        timer = asyncio.create_task(window())
        await asyncio.gather(*(one_client(c) for c in range(clients)))
        start, end = await timer
    out.warmup_s = start - t0
    out.latencies_ms = answered_in(finished, start, end)
    out.done = completions_in(finished, start, end)
    for index, content in answers:
        _, body, expected = bodies[index]
        out.wrong += not verify(body, expected, json.loads(content))
    return out


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
