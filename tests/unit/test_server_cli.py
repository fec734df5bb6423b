"""`listrank serve` as a user runs it: a subprocess built from a pipeline config file."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from listrank.cli import main

cohere = pytest.importorskip("cohere", reason="needs the integrations-test extra")
httpx = pytest.importorskip("httpx", reason="needs the integrations-test extra")
pytest.importorskip("uvicorn", reason="needs the serve extra")

KEY = "cli-key-abcdef123456"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_from_a_config_file(tmp_path: Path, tiny_model_dir: Path, repo: Path) -> None:
    config = tmp_path / "pipeline.toml"
    config.write_text(
        f'[backend]\nname = "hf"\nmodel = "{tiny_model_dir}"\ndevice = "cpu"\n'
        '[strategy]\nname = "sliding"\nwindow = 4\nstep = 2\n',
        encoding="utf-8",
    )
    port = free_port()
    env = {**os.environ, "LISTRANK_API_KEY": KEY, "PYTHONPATH": str(repo)}
    cmd = [sys.executable, "-m", "listrank", "serve", "--config", str(config)]
    cmd += ["--port", str(port), "--max-documents", "8", "--model-name", "tiny"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.2)
        docs = [f"passage number {i}" for i in range(6)]
        resp = cohere.Client(base_url=url, api_key=KEY).rerank(query="q", documents=docs)
        # random tiny weights: the order is arbitrary, but complete and without duplicates
        assert sorted(r.index for r in resp.results) == list(range(6))
        assert resp.model == "tiny"  # type: ignore[attr-defined]
        assert (
            httpx.post(f"{url}/v1/rerank", json={"query": "q", "documents": docs}).status_code
            == 401
        )
        too_many = httpx.post(
            f"{url}/v1/rerank",
            json={"query": "q", "documents": ["d"] * 9},
            headers={"Authorization": f"Bearer {KEY}"},
        )
        assert too_many.json()["limit"] == "max_documents"
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    assert KEY not in stderr
    access = [
        json.loads(line)
        for line in stderr.splitlines()
        if '"logger": "listrank.server.access"' in line
    ]
    assert [a["status"] for a in access if a["path"] == "/v1/rerank"] == [200, 401, 400]
    assert all(len(a["request_id"]) == 32 for a in access)


def test_serve_rejects_bad_limits_before_loading_a_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--queue-size", "0", "--config", "/nonexistent.toml"]) == 2
    assert "queue_size must be >= 1" in capsys.readouterr().err


def test_serve_reports_a_bad_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text("[nonsense]\n", encoding="utf-8")
    assert main(["serve", "--config", str(bad)]) == 2
    assert "unknown section" in capsys.readouterr().err
