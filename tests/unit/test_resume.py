"""Resumable batch reranking: a run killed with SIGKILL resumes without redoing finished
queries, and its output is byte-identical to an uninterrupted run."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from listrank.evaluation.summary import RunSummary
from listrank.runs.journal import Entry, Journal, fingerprint
from listrank.types import CallRecord, Query, Ranking, RepairStats, Trace


def _entry(qid: str) -> Entry:
    call = CallRecord(
        "rankgpt", ("a", "b"), 10, 3, "[2] > [1]", 0.5, RepairStats(missing=1), order=(1, 0)
    )
    trace = Trace(calls=(call,), stage_latency_s={"llm.stage0": 0.5})
    return Entry(qid, f'{{"qid": "{qid}"}}\n', Ranking(Query("text", qid), (), trace))


def test_entries_round_trip(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j", "fp")
    j.append(_entry("q1"))
    j.close()
    again = Journal(tmp_path / "j", "fp")
    got = again.done["q1"]
    assert got.text == '{"qid": "q1"}\n'
    assert got.ranking.trace == _entry("q1").ranking.trace


def test_a_line_cut_by_a_kill_is_dropped(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j", "fp")
    j.append(_entry("q1"))
    j.append(_entry("q2"))
    j.close()
    data = (tmp_path / "j").read_bytes()
    (tmp_path / "j").write_bytes(data[:-7])  # the last line lost its tail
    again = Journal(tmp_path / "j", "fp")
    assert set(again.done) == {"q1"}
    again.append(_entry("q3"))
    again.close()
    assert set(Journal(tmp_path / "j", "fp").done) == {"q1", "q3"}


def test_another_command_or_no_resume_starts_over(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j", "fp")
    j.append(_entry("q1"))
    j.close()
    other = Journal(tmp_path / "j", "other-fp")
    assert other.done == {} and other.discarded
    other.close()
    assert Journal(tmp_path / "j", "other-fp", resume=False).done == {}


def test_fingerprint_covers_input_and_options(tmp_path: Path) -> None:
    f = tmp_path / "in.jsonl"
    f.write_text("a\n")
    base = fingerprint(f, {"window": 20})
    assert base == fingerprint(f, {"window": 20})
    assert base != fingerprint(f, {"window": 10})
    f.write_text("b\n")
    assert base != fingerprint(f, {"window": 20})


def _batch(repo: Path, path: Path, n: int = 20) -> None:
    demo = [json.loads(x) for x in (repo / "examples" / "demo.jsonl").read_text().splitlines()]
    lines = []
    for i in range(n):
        src = demo[i % len(demo)]
        cands = src["candidates"][i % 5 : i % 5 + 6]
        query = f"{src['query']} ({i})"  # every prompt differs
        lines.append(json.dumps({"qid": f"q{i:02d}", "query": query, "candidates": cands}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _env(repo: Path, *extra: Path) -> dict[str, str]:
    path = os.pathsep.join(str(p) for p in (repo, *extra))
    return {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1"}


# A deterministic scripted model for the CLI: its answer is a permutation fixed by the prompt
# text (so rankings differ from the input order), and every call takes a moment, like a model.
SCRIPTED = r"""
import hashlib, random, re, sys, time
from listrank.backends.base import Feeding
from listrank.backends.fake import FakeBackend
from listrank import registry
from listrank.cli import main

def answer(request):
    text = "".join(m["content"] for m in request.messages)
    if "POISON" in text:
        from listrank.errors import RetryExhaustedError
        raise RetryExhaustedError("scripted: retries ran out")
    # 0.05-0.3 s fixed by the prompt: queries in flight together finish out of order
    time.sleep(0.05 + random.Random(text).random() * 0.25)
    n = max(int(x) for x in re.findall(r"\[(\d+)\]", text))
    ids = list(range(1, n + 1))
    random.Random(hashlib.sha256(text.encode()).hexdigest()).shuffle(ids)
    return " > ".join(f"[{i}]" for i in ids)

class Scripted(FakeBackend):
    name = "scripted"
    feeding = Feeding("concurrent", 16)  # calls of queries in flight run at once, like an API
    def __init__(self, model=None):
        super().__init__(responder=answer, model_name="scripted-model")

registry.register("backend", "scripted", "scripted_backend:Scripted")
sys.exit(main(sys.argv[1:]))
"""


def _scripted_cmd(script: Path, inp: Path, out: Path, cache: Path) -> list[str]:
    return [
        sys.executable, str(script), "rerank", str(inp), "-o", str(out),
        "--backend", "scripted", "--strategy", "single", "--cache", str(cache), "--no-progress",
        "--max-in-flight", "4",
    ]  # fmt: skip


def test_kill_9_then_resume_gives_identical_output(tmp_path: Path, repo: Path) -> None:
    inp = tmp_path / "batch.jsonl"
    _batch(repo, inp)
    script = tmp_path / "scripted_backend.py"
    script.write_text(SCRIPTED, encoding="utf-8")
    env = _env(repo, tmp_path)
    clean = tmp_path / "clean.jsonl"
    done = subprocess.run(
        _scripted_cmd(script, inp, clean, tmp_path / "clean.sqlite"),
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "20 queries, 20 model calls" in done.stderr, done.stderr
    assert not Path(f"{clean}.journal").exists()
    # the scripted model really reorders: the test is not passing on input order alone
    first = json.loads(clean.read_text().splitlines()[0])
    src = json.loads(inp.read_text().splitlines()[0])
    assert [c["docid"] for c in first["candidates"]] != [c["docid"] for c in src["candidates"]]

    out = tmp_path / "out.jsonl"
    journal = Path(f"{out}.journal")
    cache = tmp_path / "c.sqlite"
    proc = subprocess.Popen(
        _scripted_cmd(script, inp, out, cache),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_bytes().count(b"\n") >= 1 + 5:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()  # the final output is only written when every query is done
    finished = journal.read_bytes().count(b"\n") - 1

    resumed = subprocess.run(
        _scripted_cmd(script, inp, out, cache),
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert out.read_bytes() == clean.read_bytes()
    m = re.search(r"resuming: (\d+) of 20 queries", resumed.stderr)
    assert m and int(m.group(1)) >= finished >= 5
    k = int(m.group(1))
    m2 = re.search(r"this run: (\d+) queries, (\d+) model calls \((\d+) cached\)", resumed.stderr)
    assert m2, resumed.stderr
    queries, calls, cached = map(int, m2.groups())
    assert queries == 20 - k  # no finished query was done again
    # a query in flight at the kill may have its call cached already: never paid twice
    assert calls + cached == 20 - k and cached <= 4
    assert not journal.exists()


def test_a_journal_from_another_command_is_not_resumed(tmp_path: Path, repo: Path) -> None:
    inp = tmp_path / "batch.jsonl"
    _batch(repo, inp, n=2)
    script = tmp_path / "scripted_backend.py"
    script.write_text(SCRIPTED, encoding="utf-8")
    out = tmp_path / "out.txt"
    stale = Journal(f"{out}.journal", "from-another-command")
    stale.append(_entry("q00"))
    stale.close()
    cmd = [*_scripted_cmd(script, inp, out, tmp_path / "c.sqlite"), "--format", "trec"]
    done = subprocess.run(
        cmd, env=_env(repo, tmp_path), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert "starting over" in done.stderr and "resuming" not in done.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 12 and lines[0].startswith("q00 Q0 ")


def test_failed_queries_are_named_and_the_others_kept(tmp_path: Path, repo: Path) -> None:
    inp = tmp_path / "batch.jsonl"
    _batch(repo, inp, n=8)
    lines = inp.read_text().splitlines()
    bad = json.loads(lines[3])
    bad["query"] += " POISON"
    lines[3] = json.dumps(bad)
    inp.write_text("\n".join(lines) + "\n")
    script = tmp_path / "scripted_backend.py"
    script.write_text(SCRIPTED, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    done = subprocess.run(
        _scripted_cmd(script, inp, out, tmp_path / "c.sqlite"),
        env=_env(repo, tmp_path), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 2
    assert "1 of 8 queries failed: q03" in done.stderr, done.stderr
    assert not out.exists()
    entries = Path(f"{out}.journal").read_text().splitlines()[1:]
    assert sorted(json.loads(e)["qid"] for e in entries) == [f"q0{i}" for i in range(8) if i != 3]


def test_without_prompts_the_journal_keeps_everything_but_the_prompts(tmp_path: Path) -> None:
    prompt = ({"role": "user", "content": "PROMPT-TEXT " * 50},)
    base = _entry("q1")
    call = dataclasses.replace(base.ranking.trace.calls[0], messages=prompt, scores=(0.5, 0.25))
    trace = dataclasses.replace(base.ranking.trace, calls=(call,))
    entry = dataclasses.replace(base, ranking=dataclasses.replace(base.ranking, trace=trace))
    slim = Journal(tmp_path / "slim", "fp", keep_prompts=False)
    full = Journal(tmp_path / "full", "fp")
    slim.append(entry)
    full.append(entry)
    slim.close()
    full.close()
    assert "PROMPT-TEXT" not in (tmp_path / "slim").read_text()
    assert "PROMPT-TEXT" in (tmp_path / "full").read_text()
    assert Journal(tmp_path / "full", "fp").done["q1"].ranking.trace == trace
    got = Journal(tmp_path / "slim", "fp").done["q1"]
    assert got.text == entry.text
    assert got.ranking.trace == dataclasses.replace(
        trace, calls=(dataclasses.replace(call, messages=()),)
    )
    summary_of = [RunSummary(), RunSummary()]
    summary_of[0].add(entry.ranking)
    summary_of[1].add(got.ranking)
    assert summary_of[0].as_dict() == summary_of[1].as_dict()
