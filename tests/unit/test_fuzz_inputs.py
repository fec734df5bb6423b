"""Property suite over the input readers and `listrank rerank`: for any input file, either a
one-line typed error (exit 2, nothing left on disk) or a valid answer that holds every docid
exactly once, in strict JSON (or 6-column TREC)."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import event, given
from hypothesis import strategies as st

from listrank.backends.fake import FakeBackend
from listrank.cli import main
from listrank.errors import InputError
from listrank.pipeline.reranker import Reranker
from listrank.runs.io import read_requests
from tests.unit.fuzz_support import fuzz, hostile_lines
from tests.unit.server_helpers import passages

READER_EXAMPLES = 100
CLI_EXAMPLES = 40


def _strict(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"non-JSON constant {name} in output")

    return json.loads(text, parse_constant=refuse)


def _reverse(request: Any) -> str:
    found = passages(request)
    return " > ".join(f"[{i}]" for i, _ in reversed(found))


@fuzz(READER_EXAMPLES)
@given(st.lists(hostile_lines(), min_size=1, max_size=3))
def test_reader_gives_requests_or_one_line_input_error(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
        try:
            requests = read_requests(path)
        except InputError as exc:
            event("InputError")
            assert "\n" not in str(exc) and str(exc)
            return
    event("read")
    for r in requests:
        docids = [c.docid for c in r.candidates]
        assert len(set(docids)) == len(docids) > 0
        assert r.query.text.strip()
        # every string that got in can be written as UTF-8
        (r.query.text + r.query.qid + "".join(c.text + c.docid for c in r.candidates)).encode()


@fuzz(CLI_EXAMPLES)
@given(st.lists(hostile_lines(), min_size=1, max_size=2), st.sampled_from(["jsonl", "trec"]))
def test_rerank_cli_answers_or_fails_cleanly(lines: list[str], fmt: str) -> None:
    def build(self: Any) -> Reranker:
        return Reranker(backend=FakeBackend(responder=_reverse), window=3, step=2)

    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.jsonl", Path(tmp) / "out" / "result"
        src.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
        err = io.StringIO()
        with (
            mock.patch("listrank.pipeline.config.PipelineConfig.build", build),
            contextlib.redirect_stderr(err),
        ):
            code = main(["rerank", str(src), "-o", str(out), "--format", fmt, "--no-progress"])
        left = sorted(p.name for p in Path(tmp).rglob("*") if p.is_file())
        event(f"exit {code}")
        if code != 0:
            assert code == 2
            errors = [line for line in err.getvalue().splitlines() if "error" in line]
            assert len(errors) == 1 and errors[0].startswith("listrank: error: ")
            assert left == ["in.jsonl"], left  # nothing half-written, no journal
            return
        assert left == ["in.jsonl", "result"]
        requests = read_requests(src)
        text = out.read_text(encoding="utf-8")
    if fmt == "trec":
        rows = [line.split() for line in text.splitlines()]
        assert all(len(r) == 6 for r in rows)
        got: dict[str, list[str]] = {}
        for r in rows:
            got.setdefault(r[0], []).append(r[2])
        for req in requests:
            assert sorted(got[req.query.qid]) == sorted(c.docid for c in req.candidates)
        return
    records = [_strict(line) for line in text.splitlines()]
    assert len(records) == len(requests)
    for req, rec in zip(requests, records, strict=True):
        docids = [str(c["docid"]) for c in rec["candidates"]]
        assert sorted(docids) == sorted(c.docid for c in req.candidates)  # each exactly once
