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
    "deadlines",
    "throughput",
    "rank_llm_parity",
    "setwise_parity",
    "view",
    "plan_speed",
    "gpu",
)
NAMED_ONLY = frozenset({"gpu"})
"""Run only when named (it needs a CUDA device)."""


def main(argv: list[str]) -> int:
    # one name then flags: the flags are that benchmark's (python -m benchmarks gpu --cpu-tiny)
    own_flags = len(argv) > 1 and argv[0] in BENCHMARKS and argv[1].startswith("-")
    if own_flags:
        chosen, flags = argv[:1], argv[1:]
    else:
        chosen, flags = [a for a in argv if not a.startswith("-")], []
    chosen = chosen or [b for b in BENCHMARKS if b not in NAMED_ONLY]
    for name in chosen:
        if name not in BENCHMARKS:
            print(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
            return 2
    for name in chosen:
        print(f"\n=== benchmarks.{name} ===", flush=True)
        start = time.perf_counter()
        module = importlib.import_module(f"benchmarks.{name}")
        code = module.main(flags)
        if len(chosen) == 1 and isinstance(code, int) and code:
            return code
        print(f"(benchmarks.{name} took {time.perf_counter() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
