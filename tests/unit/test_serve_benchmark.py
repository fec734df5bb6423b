"""The serve rows' load generator: ``listrank serve`` in its own process, closed-loop clients,
a warm-up, and a window that counts completions by the share of each request inside it."""

from __future__ import annotations

import asyncio
import json
import os
import random

import pytest

from benchmarks.serve_load import Body, completions_in, serve_process, sustain
from benchmarks.throughput import graded_request, graded_responder, graded_top10
from tests.support.fake_openai import FakeOpenAIServer


def test_clients_in_lockstep_count_window_over_latency_wherever_the_window_falls() -> None:
    # two clients, back to back requests of 4 s each, from t = 0
    spans = [(c * 0.1 + 4 * k, c * 0.1 + 4 * (k + 1), 200) for c in range(2) for k in range(10)]
    for start in (5.0, 6.3, 8.0):
        # whole answers in [start, start + 10] would be 2 or 3 per client; the shares are 2.5
        assert completions_in(spans, start, start + 10) == pytest.approx(5.0)


def test_refusals_and_requests_outside_the_window_do_not_count() -> None:
    spans = [(0.0, 1.0, 200), (1.0, 2.0, 503), (2.0, 4.0, 200), (9.0, 10.0, 200)]
    # half of the second answered request lies in [3, 8]; the 503 and the others not at all
    assert completions_in(spans, 3.0, 8.0) == pytest.approx(0.5)


def test_sustained_load_on_a_served_process_checks_every_answer() -> None:
    rng = random.Random(0)
    bodies: list[Body] = []
    for i in range(3):
        body, best = graded_request(i, rng)
        bodies.append((json.dumps(body).encode(), body, best))
    with FakeOpenAIServer(responder=graded_responder) as api:
        argv = ["--backend", "openai", "--model", "stand-in", "--base-url", api.url,
                "--strategy", "sliding", "--window", "20", "--step", "10",
                "--log-level", "warning"]  # fmt: skip
        with serve_process(argv) as (url, pid):
            watch = {"service": pid, "clients": os.getpid()}
            out = asyncio.run(sustain(url, 2, 1.0, bodies, graded_top10, watch))
        calls = len(api.requests)
    answered = out.statuses.pop("200")
    assert out.statuses == {}  # nothing but 200s
    assert out.wrong == 0  # every answer was its own request's documents, best ten first
    assert out.done > 0 and len(out.latencies_ms) > 0
    assert calls == 9 * answered  # sliding 20/10 over 100 documents: 9 calls a request
    assert set(out.cpu_s) == {"service", "clients"}
    assert all(v >= 0 for v in out.cpu_s.values())
