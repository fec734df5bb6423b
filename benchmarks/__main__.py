"""Run every benchmark (or those named) and print their tables: python -m benchmarks [NAME ...]."""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS: tuple[str, ...] = (
    "methods",
    "strategies",
    "setwise",
    "debias",
    "api_concurrency",
    "serve_load",
    "batch_scaling",
    "cascade",
    "injection",
    "throughput",
    "rank_llm_parity",
    "view",
)


def main(argv: list[str]) -> int:
    chosen = [a for a in argv if not a.startswith("-")] or list(BENCHMARKS)
    for name in chosen:
        if name not in BENCHMARKS:
            print(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
            return 2
    for name in chosen:
        print(f"\n=== benchmarks.{name} ===", flush=True)
        start = time.perf_counter()
        module = importlib.import_module(f"benchmarks.{name}")
        module.main([])
        print(f"(benchmarks.{name} took {time.perf_counter() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
