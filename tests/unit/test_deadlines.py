"""Every API call has a total deadline (connect and every read together), retries have a total
budget, and Ctrl-C cancels the calls in flight at once; a second Ctrl-C exits immediately.

The bounds asserted here are far from the untreated behaviour (a trickled answer takes a
minute, a hung call its whole timeout), so they hold on a loaded machine;
``python -m benchmarks deadlines`` measures the actual ratios."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from listrank.backends.base import GenerationRequest
from listrank.backends.openai import OpenAIBackend
from listrank.errors import RetryExhaustedError
from tests.support.hostile_server import HostileServer, Reply, chat

MSG = [{"role": "user", "content": "hi"}]


def _trickled(_: object) -> Reply:
    reply = chat("[1] > [2]")
    reply.trickle_s = 0.25  # ~300 bytes: over a minute for the whole answer
    return reply


def test_a_trickling_server_is_cut_at_the_deadline() -> None:
    with HostileServer(_trickled) as server:
        backend = OpenAIBackend("m", base_url=server.url, timeout=1.0, max_attempts=1)
        start = time.monotonic()
        try:
            with pytest.raises(RetryExhaustedError, match="deadline"):
                backend.generate([GenerationRequest(MSG, 5)])  # type: ignore[list-item]
        finally:
            backend.close()
        wall = time.monotonic() - start
    assert wall < 10, wall  # untreated: each byte resets the per-read timeout (> 60 s)


def test_retries_stop_at_their_total_budget() -> None:
    with HostileServer(_trickled) as server:
        backend = OpenAIBackend(
            "m", base_url=server.url, timeout=1.0, max_attempts=50, max_retry_time=2.5, backoff=0.1
        )
        start = time.monotonic()
        try:
            with pytest.raises(RetryExhaustedError) as info:
                backend.generate([GenerationRequest(MSG, 5)])  # type: ignore[list-item]
        finally:
            backend.close()
        wall = time.monotonic() - start
    assert wall < 15, wall
    assert "attempt" in str(info.value) and server.requests <= 4


def _hang_or_answer(body: dict[str, object]) -> Reply:
    text = json.dumps(body)
    if "FAST" in text:
        return chat("[2] > [1]")
    return Reply(b"", hang=True)


def _input(path: Path, fast: int, hung: int) -> Path:
    lines = []
    for q in range(fast + hung):
        word = "FAST" if q < fast else "slow"
        cands = [{"docid": f"d{i}", "text": f"{word} passage {i}"} for i in range(2)]
        lines.append(json.dumps({"qid": f"q{q}", "query": f"query {q}", "candidates": cands}))
    path.write_text("\n".join(lines) + "\n")
    return path


def _env(repo: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(repo), "HF_HUB_OFFLINE": "1"}


def test_ctrl_c_with_32_calls_in_flight_exits_at_once_and_says_how_to_resume(
    tmp_path: Path, repo: Path
) -> None:
    inp = _input(tmp_path / "in.jsonl", fast=4, hung=32)
    out = tmp_path / "out.jsonl"
    with HostileServer(_hang_or_answer) as server:
        cmd = [sys.executable, "-m", "listrank", "rerank", str(inp), "-o", str(out),
               "--backend", "openai", "--model", "m", "--strategy", "single", "--no-progress",
               "-O", f"base_url={server.url}", "-O", "concurrency=36", "-O", "timeout=120",
               "-O", "max_attempts=1"]  # fmt: skip
        proc = subprocess.Popen(cmd, env=_env(repo), stderr=subprocess.PIPE, text=True)
        try:
            assert server.wait_in_flight(32, timeout=120), "the calls never got in flight"
            journal = Path(f"{out}.journal")
            end = time.monotonic() + 30
            while journal.read_text().count("\n") < 5 and time.monotonic() < end:
                time.sleep(0.05)  # the four fast queries are journaled
            start = time.monotonic()
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
            exited = time.monotonic() - start
        finally:
            proc.kill()
    assert proc.returncode == 130, err
    assert exited < 10, exited  # untreated: every call waits out its 120 s timeout
    assert "4 of 36 queries are kept" in err and "run the same command again" in err, err
    assert "Traceback" not in err


SECOND = """
import sys, time
from listrank.cli import _install_interrupt_handler
_install_interrupt_handler()
try:
    print("ready", flush=True)  # inside the try: the signal may come at once
    time.sleep(60)
except KeyboardInterrupt:
    print("winding down", flush=True)
    time.sleep(60)  # a slow shutdown: the second Ctrl-C must not wait for it
"""


def test_a_second_ctrl_c_exits_immediately(repo: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SECOND], env=_env(repo), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGINT)
        assert proc.stdout.readline().strip() == "winding down"
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert proc.stderr is not None and "exiting now" in proc.stderr.read()
