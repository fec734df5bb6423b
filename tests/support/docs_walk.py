"""The fresh-clone walk by hand: every code block of the README and the docs, in order, on the
REAL embedded model (tests/unit/test_docs_code.py runs the same blocks on the tiny one), with
the time each block took.

    python -m tests.support.docs_walk                       # everything (the walk-through's
                                                            # `ab` alone takes many minutes)
    python -m tests.support.docs_walk --only README.md docs/cli.md:7
    python -m tests.support.docs_walk --skip docs/walkthrough.md --tiny --markdown

``--only``/``--skip`` take pages or page:line (a block's opening fence). DL19 comes from the
test collections laid out as a hub cache (as the tests do; ``--online`` uses the real caches
and the network instead), the OpenAI examples talk to a loopback stand-in, and the blocks run
in a fresh temporary folder per page."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.docs_blocks import GENERATED, ROOT, Block, PageRunner, all_blocks


def _selected(block: Block, only: list[str], skip: list[str]) -> bool:
    def hit(names: list[str]) -> bool:
        return any(n in (block.page, block.where) for n in names)

    return (not only or hit(only)) and not hit(skip)


def _prepare(folder: Path, patch: pytest.MonkeyPatch, tiny: bool, online: bool) -> None:
    """The caches of a fresh machine: the embedded model where listrank keeps it (converted
    once, here linked), DL19 offline unless ``online``."""
    from listrank.backends.embedded import EMBEDDED_NAME, embedded_model_dir

    if tiny:
        from listrank.testing import embedded_tokenizer, tiny_model

        model = folder / "tiny-model"
        tiny_model("llama").save_pretrained(model)
        embedded_tokenizer().save_pretrained(model)
    else:
        model = embedded_model_dir()
    if online:
        cache = folder / "listrank-cache"
        patch.setenv("LISTRANK_CACHE_DIR", str(cache))
    else:
        from tests.conftest import DATA
        from tests.unit.hub_cache import offline_dl19

        offline_dl19(folder / "caches", patch, DATA)
        patch.setenv("HF_HUB_CACHE", str(folder / "caches" / "hub"))
        cache = folder / "caches" / "listrank-cache"
    (cache / "models").mkdir(parents=True, exist_ok=True)
    (cache / "models" / EMBEDDED_NAME).symlink_to(model)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.docs_walk")
    parser.add_argument("--only", nargs="+", default=[], metavar="PAGE[:LINE]")
    parser.add_argument("--skip", nargs="+", default=[], metavar="PAGE[:LINE]")
    parser.add_argument("--tiny", action="store_true", help="the tiny random model instead")
    parser.add_argument("--online", action="store_true", help="real caches and the network")
    parser.add_argument("--markdown", action="store_true", help="end with the timings as a table")
    args = parser.parse_args(argv)

    from tests.support.fake_openai import FakeOpenAIServer

    failed = 0
    rows: list[tuple[str, str, str]] = []
    with (
        tempfile.TemporaryDirectory(prefix="listrank-docs-walk-") as tmp,
        pytest.MonkeyPatch.context() as patch,
        FakeOpenAIServer() as api,
    ):
        root = Path(tmp)
        _prepare(root, patch, args.tiny, args.online)
        patch.setenv("OPENAI_BASE_URL", api.url)
        patch.setenv("OPENAI_API_KEY", "sk-docs-walk")
        runners: dict[str, PageRunner] = {}
        try:
            for block in all_blocks():
                if block.page in GENERATED or not _selected(block, args.only, args.skip):
                    continue
                if block.skip:
                    rows.append((block.where, "-", f"skipped ({block.skip})"))
                    print(f"{block.where:28} skipped ({block.skip})", flush=True)
                    continue
                if block.page not in runners:
                    folder = root / block.page.replace("/", "_")
                    folder.mkdir()
                    (folder / "examples").symlink_to(ROOT / "examples")
                    runners[block.page] = PageRunner(folder, dict(os.environ))
                start = time.perf_counter()
                try:
                    runners[block.page].run(block)
                    status = "ok"
                except AssertionError as exc:
                    failed += 1
                    status = f"FAILED: {str(exc).splitlines()[0]}"
                seconds = f"{time.perf_counter() - start:.1f}"
                rows.append((block.where, seconds, status))
                print(f"{block.where:28} {seconds:>8} s  {status}", flush=True)
        finally:
            for runner in runners.values():
                runner.close()
    ran = [r for r in rows if r[1] != "-"]
    total = sum(float(r[1]) for r in ran)
    model = "the tiny model" if args.tiny else "the embedded model"
    print(
        f"\n{len(ran)} blocks run on {model} in {total:.1f} s, "
        f"{len(rows) - len(ran)} skipped, {failed} failed"
    )
    if args.markdown:
        print("\n| block | seconds | result |\n|---|---|---|")
        print("\n".join(f"| {where} | {seconds} | {status} |" for where, seconds, status in rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
