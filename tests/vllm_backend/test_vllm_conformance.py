"""The backend conformance suite (tests/unit/test_backend_conformance.py) on the real vLLM
backend. Run with ``make test-vllm``; skipped where vLLM is not importable."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (make test-vllm sets it up)")

from listrank.backends.vllm import VLLMBackend
from tests.unit.test_backend_conformance import (
    CHECKS,
    check_declared_capabilities,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def backend() -> Iterator[VLLMBackend]:
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    yield VLLMBackend(dtype="bfloat16", enforce_eager=True, max_model_len=4096)


def test_capabilities_are_as_declared(backend: VLLMBackend, tmp_path: Path) -> None:
    check_declared_capabilities(backend, tmp_path)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_conformance(backend: VLLMBackend, check: object) -> None:
    check(backend)  # type: ignore[operator]
