"""`listrank plan` and `config show/check` wall time and peak memory, before and after the
planning path, side by side in one run: each command runs in a fresh process on an older tree
(``--before REF``, extracted with ``git archive``) and on this one, alternating, ``--repeats``
times; the table shows medians. Target: every command under 1 s.

    python -m benchmarks plan_speed --before e93fada [--repeats 5] [--only default,fake]

Both trees use the same caches (the embedded model's converted folder); the old plan loads the
model, the new one reads its tokenizer. The ``fresh cache`` row runs this tree with an empty
cache: the one plan that builds the embedded GGUF's tokenizer snapshot with transformers
(tokenizer only), as the first plan on a new machine does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROWS: dict[str, list[str]] = {
    "default": ["plan", "--n", "100"],
    "first": ["plan", "--n", "100", "--method", "first"],
    "rankgpt": ["plan", "--n", "100", "--method", "rankgpt"],
    "openai": ["plan", "--n", "100", "--backend", "openai", "--model", "gpt-4o-mini"],
    "fake": ["plan", "--n", "100", "--backend", "fake"],
    "config-show": ["config", "show"],
    "config-check": ["config", "check", "preset:rankgpt"],
}
LABELS = {
    "default": "plan --n 100 (embedded, icr)",
    "first": "plan --n 100 --method first",
    "rankgpt": "plan --n 100 --method rankgpt",
    "openai": "plan --n 100 --backend openai --model gpt-4o-mini",
    "fake": "plan --n 100 --backend fake",
    "config-show": "config show",
    "config-check": "config check preset:rankgpt",
}
# the command, then its peak RSS on stderr (resource reports this process's own maximum)
_PROBE = (
    "import resource, runpy, sys\n"
    "sys.argv = ['listrank', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('listrank', run_name='__main__')\n"
    "except SystemExit as exc:\n"
    "    code = exc.code\n"
    "else:\n"
    "    code = 0\n"
    "use = resource.getrusage(resource.RUSAGE_SELF)\n"
    "print(f'PEAK_KB {use.ru_maxrss} CPU_S {use.ru_utime + use.ru_stime}', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def extract(ref: str, into: Path) -> Path:
    """The tree of ``ref`` (its package and the prompts and presets it ships) in a
    temporary folder."""
    archive = into / "before.tar"
    with archive.open("wb") as fh:
        parts = ["listrank", "prompts", "presets"]
        subprocess.run(["git", "archive", ref, *parts], cwd=REPO, stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    return into / "tree"


Sample = tuple[float, float, float]
"""Wall seconds, CPU seconds (user + system) and peak MB of one run."""


def run_once(tree: Path, argv: list[str], env: dict[str, str]) -> Sample:
    """One command in a fresh process on ``tree``."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        env={**env, "PYTHONPATH": str(tree)},
        cwd=tree,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed on {tree}:\n{done.stderr[-2000:]}")
    line = next(line for line in done.stderr.splitlines() if line.startswith("PEAK_KB"))
    fields = line.split()
    return wall, float(fields[3]), int(fields[1]) / 1024


def cells(samples: list[Sample]) -> list[str]:
    """Median wall, CPU and peak memory; empty cells without samples."""
    if not samples:
        return ["", "", ""]
    return [
        f"{statistics.median(s[0] for s in samples):.2f}",
        f"{statistics.median(s[1] for s in samples):.2f}",
        f"{statistics.median(s[2] for s in samples):.0f}",
    ]


def measure(
    tree: Path, argv: list[str], env: dict[str, str], repeats: int
) -> list[tuple[float, float]]:
    return [run_once(tree, argv, env) for _ in range(repeats)]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks plan_speed")
    parser.add_argument("--before", help="git ref of the tree to compare with (e.g. e93fada)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", help="comma-separated rows: " + ", ".join([*ROWS, "fresh"]))
    args = parser.parse_args(argv)
    chosen = args.only.split(",") if args.only else [*ROWS, "fresh"]
    # the old openai backend wants a key even to count; nothing is sent anywhere
    env = {**os.environ, "OPENAI_API_KEY": "sk-plan-benchmark", "OPENAI_BASE_URL": ""}
    env.pop("LISTRANK_CACHE_DIR", None)
    with tempfile.TemporaryDirectory() as tmp:
        before = extract(args.before, Path(tmp)) if args.before else None
        print("| command | before: wall s | CPU s | peak MB | after: wall s | CPU s | peak MB |")
        print("|---|---|---|---|---|---|---|")
        for row in chosen:
            if row == "fresh":
                cold = {**env, "LISTRANK_CACHE_DIR": str(Path(tmp) / "fresh-cache")}
                first = run_once(REPO, ROWS["default"], cold)
                warm = [run_once(REPO, ROWS["default"], cold) for _ in range(args.repeats)]
                print(
                    f"| `{LABELS['default']}`, fresh cache: first plan | | | | "
                    f"{' | '.join(cells([first]))} |\n"
                    f"| same, the plans after it | | | | {' | '.join(cells(warm))} |",
                    flush=True,
                )
                continue
            old: list[Sample] = []
            new: list[Sample] = []
            run_once(REPO, ROWS[row], env)  # warm the file cache of both trees
            if before is not None:
                run_once(before, ROWS[row], env)
            for _ in range(args.repeats):  # alternating, so load on the machine hits both
                if before is not None:
                    old.append(run_once(before, ROWS[row], env))
                new.append(run_once(REPO, ROWS[row], env))
            print(f"| `{LABELS[row]}` | {' | '.join(cells(old) + cells(new))} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
