"""A killed `batch --ray` driver leaves no process of the local Ray cluster it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="Ray is not installed (pip install 'listrank[ray]')")
psutil = pytest.importorskip("psutil")

REPO = Path(__file__).resolve().parents[2]

DRIVER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from listrank.batch import BatchJob, run_batch

    marker = Path(sys.argv[3])

    class Slow:
        def __init__(self, config):
            marker.write_text("up")

        def rerank(self, query, candidates):
            time.sleep(600)

    run_batch(
        BatchJob(input=Path(sys.argv[1]), out_dir=Path(sys.argv[2]), ray=True, progress=False),
        Slow,
    )
    """
)


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.Error:
            continue
    return out


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_no_process_of_the_cluster_survives_its_killed_driver(
    tmp_path: Path, sig: signal.Signals
) -> None:
    request = {"qid": "1", "query": "q", "candidates": [{"docid": "a", "text": "x"}]}
    (tmp_path / "in.jsonl").write_text(json.dumps(request) + "\n")
    (tmp_path / "driver.py").write_text(DRIVER)
    marker = tmp_path / "actor-up"
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAY_ADDRESS": ""}
    driver = subprocess.Popen(
        [
            sys.executable,
            str(tmp_path / "driver.py"),
            str(tmp_path / "in.jsonl"),
            str(tmp_path / "out"),
            str(marker),
        ],
        env=env,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():  # the cluster runs and an actor holds the query
            assert driver.poll() is None, "the driver ended before its actor started"
            assert time.monotonic() < deadline, "the actor never started"
            time.sleep(0.2)
        cluster = psutil.Process(driver.pid).children(recursive=True)
        assert len(cluster) >= 3  # GCS, raylet, the actor's worker at least
        os.kill(driver.pid, sig)
        driver.wait(30)
        deadline = time.monotonic() + 10
        while _alive(cluster) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [(p.pid, " ".join(p.cmdline())[:80]) for p in _alive(cluster)]
        assert left == [], f"still running 10 s after the driver died: {left}"
    finally:
        if driver.poll() is None:
            driver.kill()
