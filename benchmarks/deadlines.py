"""API deadlines and Ctrl-C against hostile loopback servers: a server that trickles a valid
answer one byte at a time is cut at the attempt's deadline (target: wall <= deadline x 1.2),
retries stop at their total budget, and Ctrl-C with 32 calls in flight ends `listrank rerank`
within 2 s (the calls' timeout is 120 s).

    python -m benchmarks deadlines
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from listrank.backends.base import GenerationRequest
from listrank.backends.openai import OpenAIBackend
from listrank.errors import RetryExhaustedError
from tests.support.hostile_server import HostileServer, Reply, chat

REPO = Path(__file__).resolve().parents[1]
MSG = [{"role": "user", "content": "hi"}]


def _trickled(_: object) -> Reply:
    reply = chat("[1] > [2]")
    reply.trickle_s = 0.05  # ~300 bytes: 15 s for the whole answer
    return reply


def cut_at(deadline: float, *, budget: float | None = None) -> float:
    with HostileServer(_trickled) as server:
        kw: dict[str, float] = {"max_attempts": 1}
        if budget is not None:
            kw = {"max_attempts": 50, "max_retry_time": budget, "backoff": 0.05}
        backend = OpenAIBackend("m", base_url=server.url, timeout=deadline, **kw)  # type: ignore[arg-type]
        start = time.monotonic()
        try:
            backend.generate([GenerationRequest(MSG, 5)])  # type: ignore[list-item]
        except RetryExhaustedError:
            pass
        finally:
            backend.close()
        return time.monotonic() - start


def _hang_or_answer(body: dict[str, object]) -> Reply:
    return chat("[2] > [1]") if "FAST" in json.dumps(body) else Reply(b"", hang=True)


def ctrl_c_exit(in_flight: int = 32) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "in.jsonl"
        lines = []
        for q in range(in_flight + 4):
            word = "FAST" if q < 4 else "slow"
            cands = [{"docid": f"d{i}", "text": f"{word} passage {i}"} for i in range(2)]
            lines.append(json.dumps({"qid": f"q{q}", "query": "q", "candidates": cands}))
        inp.write_text("\n".join(lines) + "\n")
        with HostileServer(_hang_or_answer) as server:
            options = [f"base_url={server.url}", f"concurrency={in_flight + 4}", "timeout=120"]
            cmd = [sys.executable, "-m", "listrank", "rerank", str(inp), "-o", f"{tmp}/o.jsonl",
                   "--backend", "openai", "--model", "m", "--strategy", "single",
                   "--no-progress", "-O", "max_attempts=1"]  # fmt: skip
            for option in options:
                cmd += ["-O", option]
            env = {**os.environ, "PYTHONPATH": str(REPO)}
            proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
            server.wait_in_flight(in_flight, timeout=120)
            time.sleep(0.5)
            start = time.monotonic()
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=150)
            return time.monotonic() - start, proc.returncode


def main(argv: list[str]) -> None:
    print(f"{'case':<44} {'deadline s':>10} {'wall s':>8} {'wall/deadline':>14}")
    for deadline in (0.5, 1.0, 2.0):
        wall = cut_at(deadline)
        print(f"{'trickling server, 1 attempt':<44} {deadline:>10.1f} {wall:>8.2f} "
              f"{wall / deadline:>14.2f}")  # fmt: skip
    wall = cut_at(1.0, budget=3.0)
    print(f"{'trickling server, retries, budget 3 s':<44} {3.0:>10.1f} {wall:>8.2f} "
          f"{wall / 3.0:>14.2f}")  # fmt: skip
    seconds, code = ctrl_c_exit()
    print(f"Ctrl-C with 32 calls in flight (timeout 120 s): exit {code} after {seconds:.2f} s")
    print("(targets: wall/deadline <= 1.2; Ctrl-C exit <= 2 s)")


if __name__ == "__main__":
    main(sys.argv[1:])
