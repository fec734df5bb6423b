"""The A/B harness: paired statistics, shuffling controls, system costs, report files, cache."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from listrank.backends.base import GenerationRequest
from listrank.backends.fake import FakeBackend
from listrank.cli import main
from listrank.errors import InputError
from listrank.evaluation.ab import paired_comparison, run_ab, shuffled
from listrank.pipeline.reranker import Reranker
from listrank.runs.io import read_requests
from listrank.types import Candidate

scipy_stats = pytest.importorskip("scipy.stats")


def test_paired_statistics_match_scipy() -> None:
    rng = np.random.default_rng(1)
    a = {f"q{i}": float(x) for i, x in enumerate(rng.random(30))}
    b = {q: v + 0.05 + 0.1 * float(rng.standard_normal()) for q, v in a.items()}
    b["q0"] = a["q0"]  # one tie
    c = paired_comparison("nDCG@10", ("A", a), ("B", b), seed=7)
    qs = sorted(a)
    assert c.p_value == pytest.approx(
        scipy_stats.ttest_rel([b[q] for q in qs], [a[q] for q in qs]).pvalue
    )
    d = np.array([b[q] - a[q] for q in qs])
    assert c.mean_diff == pytest.approx(d.mean())
    assert c.ci_low < c.mean_diff < c.ci_high
    assert (c.wins, c.ties, c.losses) == ((d > 1e-9).sum(), 1, (d < -1e-9).sum())
    assert c.wins + c.ties + c.losses == 30
    # the bootstrap is seeded: same seed, same interval; another seed, another interval
    again = paired_comparison("nDCG@10", ("A", a), ("B", b), seed=7)
    other = paired_comparison("nDCG@10", ("A", a), ("B", b), seed=8)
    assert (again.ci_low, again.ci_high) == (c.ci_low, c.ci_high)
    assert (other.ci_low, other.ci_high) != (c.ci_low, c.ci_high)


def test_identical_systems_give_p_one_and_all_ties() -> None:
    a = {"x": 0.5, "y": 0.25}
    c = paired_comparison("m", ("A", a), ("B", dict(a)))
    assert c.p_value == 1.0 and c.ties == 2 and c.ci_low == c.ci_high == 0.0


def test_no_common_queries_is_an_error() -> None:
    with pytest.raises(InputError, match="no query"):
        paired_comparison("m", ("A", {"x": 1.0}), ("B", {"y": 1.0}))


def test_shuffle_is_fixed_by_seed_and_query() -> None:
    cands = [Candidate(str(i), f"t{i}") for i in range(12)]
    one = [c.docid for c in shuffled(cands, 3, "q1")]
    assert one == [c.docid for c in shuffled(cands, 3, "q1")]
    assert one != [c.docid for c in shuffled(cands, 4, "q1")]
    assert one != [c.docid for c in shuffled(cands, 3, "q2")]
    assert sorted(one, key=int) == [c.docid for c in cands]


def _ids_in_prompt(req: GenerationRequest) -> int:
    return len(re.findall(r"^\[\d+\]", req.messages[-1]["content"], flags=re.M)) or 20


# distinct model names: the cache rightly treats one backend+model+prompt as one answer
def _keep_order() -> FakeBackend:
    return FakeBackend(
        responder=lambda r: " > ".join(f"[{i}]" for i in range(1, _ids_in_prompt(r) + 1)),
        model_name="keep-model",
    )


def _reverse() -> FakeBackend:
    return FakeBackend(
        responder=lambda r: " > ".join(f"[{i}]" for i in range(_ids_in_prompt(r), 0, -1)),
        model_name="reverse-model",
    )


def _requests(tmp_path: Path, n_queries: int = 6, n_cands: int = 8) -> tuple[Path, dict]:  # type: ignore[type-arg]
    path = tmp_path / "in.jsonl"
    lines, qrels = [], {}
    for q in range(n_queries):
        cands = [{"docid": f"d{q}-{i}", "text": f"passage {i}"} for i in range(n_cands)]
        lines.append(json.dumps({"qid": f"q{q}", "query": f"query {q}", "candidates": cands}))
        # relevance grows with input position: reversing the list helps
        qrels[f"q{q}"] = {f"d{q}-{i}": (1 if i >= n_cands - 2 else 0) for i in range(n_cands)}
    lines.append(
        json.dumps({"qid": "unjudged", "query": "u", "candidates": [{"docid": "z", "text": "z"}]})
    )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, qrels


def test_run_ab_compares_and_counts(tmp_path: Path) -> None:
    path, qrels = _requests(tmp_path)
    requests = read_requests(path)
    keep, rev = _keep_order(), _reverse()
    report = run_ab(
        [
            ("keep", Reranker(backend=keep, strategy="single")),
            ("reverse", Reranker(backend=rev, strategy="single")),
        ],
        requests,
        qrels,
        ["nDCG@10", "RR@10"],
        progress=False,
    )
    assert report.queries == 6  # the unjudged query is not run at all
    assert len(keep.history) == len(rev.history) == 6
    by_metric = {c.metric: c for c in report.comparisons}
    c = by_metric["RR@10"]
    assert c.mean_system == 1.0 and c.mean_baseline == pytest.approx(1 / 7)
    assert (c.wins, c.ties, c.losses) == (6, 0, 0)
    assert c.p_value is None  # every difference identical: the t-test is undefined
    stats = {s.name: s for s in report.stats}
    assert stats["reverse"].model_calls == 6
    assert stats["reverse"].prompt_tokens == sum(
        keep.count_prompt_tokens(r.messages)
        for r in rev.history  # type: ignore[union-attr]
    )
    json.dumps(report.as_dict())  # serialisable


def test_seeds_shuffle_identically_for_all_systems_and_report_spread(tmp_path: Path) -> None:
    path, qrels = _requests(tmp_path)
    keep_a, keep_b = _keep_order(), _keep_order()
    report = run_ab(
        [
            ("a", Reranker(backend=keep_a, strategy="single")),
            ("b", Reranker(backend=keep_b, strategy="single")),
        ],
        read_requests(path),
        qrels,
        shuffle_seed=5,
        seeds=3,
        progress=False,
    )
    assert report.seeds == [5, 6, 7]
    # both systems saw exactly the same shuffled prompts (queries run at once, so the order in
    # which their calls reach the backend varies: compare the prompts as a multiset)
    seen_a = sorted(repr(r.messages) for r in keep_a.history)  # type: ignore[union-attr]
    assert seen_a == sorted(repr(r.messages) for r in keep_b.history)  # type: ignore[union-attr]
    assert len(keep_a.history) == 18
    c = report.comparisons[0]
    assert c.ties == 6 and c.p_value == 1.0
    spread = report.spreads()["a"]["nDCG@10"]
    assert spread.min <= spread.mean <= spread.max
    assert spread.std > 0  # keeping a shuffled order scores differently per seed


def test_repeated_run_with_cache_makes_no_model_calls(tmp_path: Path) -> None:
    path, qrels = _requests(tmp_path)
    requests = read_requests(path)
    cache = tmp_path / "calls.sqlite"
    keep, rev = _keep_order(), _reverse()

    def systems() -> list[tuple[str, Reranker]]:
        return [
            ("keep", Reranker(backend=keep, strategy="single", cache=cache)),
            ("rev", Reranker(backend=rev, strategy="single", cache=cache)),
        ]

    first = run_ab(systems(), requests, qrels, progress=False)
    served = len(keep.history) + len(rev.history)
    second = run_ab(systems(), requests, qrels, progress=False)
    assert len(keep.history) + len(rev.history) == served  # not one request reached a backend
    assert [s.model_calls for s in second.stats] == [0, 0]
    assert [s.cached_calls for s in second.stats] == [s.model_calls for s in first.stats]
    assert second.comparisons[0].diffs == first.comparisons[0].diffs


def test_cli_writes_report_plot_and_runs_then_reruns_from_cache(
    tmp_path: Path, tiny_model_dir: Path, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configs = []
    for name, template in (("plain", "rankgpt"), ("single", "rankgpt_single")):
        toml = tmp_path / f"{name}.toml"
        toml.write_text(
            f'[backend]\nname = "hf"\nmodel = "{tiny_model_dir}"\ndevice = "cpu"\n'
            # a short answer keeps the random tiny model quick; repair completes it
            f'[method]\nname = "rankgpt"\ntemplate = "{template}"\nmax_new_tokens = 6\n'
            f'[strategy]\nname = "single"\n',
            encoding="utf-8",
        )
        configs.append(str(toml))
    out = tmp_path / "ab"
    argv = [
        "ab",
        *configs,
        "--input",
        str(repo / "examples" / "demo.jsonl"),
        "--qrels",
        str(repo / "examples" / "demo.qrels"),
        "--metrics",
        "nDCG@10",
        "RR@10",
        "--out",
        str(out),
        "--cache",
        str(tmp_path / "c.sqlite"),
        "--no-progress",
        "--trace",
        str(tmp_path / "calls.jsonl"),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "W/T/L" in printed and "95% CI" in printed
    # the first stage is a built-in system and the baseline, and the report says so
    assert "first-stage: the input order (built in" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["systems"] == ["first-stage", "plain", "single"]
    assert report["baseline"] == "first-stage" and report["queries"] == 3
    assert report["first_stage"].startswith("built in")
    assert {(c["metric"], c["system"]) for c in report["comparisons"]} == {
        (m, s) for m in ("nDCG@10", "RR@10") for s in ("plain", "single")
    }
    assert [s["model_calls"] for s in report["systems_stats"]] == [0, 3, 3]
    assert (out / "differences.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "runs" / "single.trec").read_text().count("\n") == 60
    assert (out / "runs" / "first-stage.trec").read_text().count("\n") == 60
    lines = [json.loads(x) for x in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert len(lines) == 6  # one per model call: 3 queries x 2 pipelines, none for the first stage
    assert {x["system"] for x in lines} == {"plain", "single"}
    assert main(argv) == 0
    again = json.loads((out / "report.json").read_text())
    assert [s["model_calls"] for s in again["systems_stats"]] == [0, 0, 0]
    assert [s["cached_calls"] for s in again["systems_stats"]] == [0, 3, 3]
    assert again["comparisons"] == report["comparisons"]
    # --baseline picks another system; --no-first-stage leaves the built-in one out
    assert main([*argv, "--baseline", "plain", "--no-first-stage"]) == 0
    third = json.loads((out / "report.json").read_text())
    assert third["systems"] == ["plain", "single"] and third["first_stage"] is None


def test_cli_checks_inputs_before_loading_models(
    tmp_path: Path, repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "a.toml"
    good.write_text('[backend]\nname = "hf"\nmodel = "/nonexistent/model"\n', encoding="utf-8")
    bad = tmp_path / "b.toml"
    bad.write_text("[nonsense]\n", encoding="utf-8")
    base = [
        "--input",
        str(repo / "examples" / "demo.jsonl"),
        "--qrels",
        str(repo / "examples" / "demo.qrels"),
        "--out",
        str(tmp_path / "o"),
    ]
    assert main(["ab", str(good), str(bad), *base]) == 2
    assert "unknown section" in capsys.readouterr().err
    assert main(["ab", str(good), str(good), *base, "--metrics", "nDCG@@1"]) == 2
    assert "unknown metric" in capsys.readouterr().err
    assert main(["ab", str(good), *base, "--no-first-stage"]) == 2
    assert "at least two" in capsys.readouterr().err


@pytest.mark.integration
def test_real_model_two_templates_on_dl19_then_zero_calls(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's demo on the embedded model: two prompt templates over real DL19 queries."""
    src = data_dir / "trec-dl19-passage" / "dl19.bm25.top100.normalized.jsonl"
    lines = []
    with open(src, encoding="utf-8") as fh:
        for line, _ in zip(fh, range(2), strict=False):
            d = json.loads(line)
            d["candidates"] = [
                {**c, "text": " ".join(c["text"].split()[:30])} for c in d["candidates"][:5]
            ]
            lines.append(json.dumps(d))
    inp = tmp_path / "dl19.jsonl"
    inp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    configs = []
    for template in ("rankgpt", "rankgpt_single"):
        toml = tmp_path / f"{template}.toml"
        toml.write_text(
            f'[backend]\nname = "hf"\ndevice = "cpu"\n[method]\nname = "rankgpt"\n'
            f'template = "{template}"\n[strategy]\nname = "single"\n',
            encoding="utf-8",
        )
        configs.append(str(toml))
    out = tmp_path / "ab"
    argv = ["ab", *configs, "--input", str(inp), "--qrels",
            str(data_dir / "trec-dl19-passage" / "qrels.dl19-passage.txt"),
            "--out", str(out), "--cache", str(tmp_path / "c.sqlite"), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    first = json.loads((out / "report.json").read_text())
    assert [s["model_calls"] for s in first["systems_stats"]] == [0, 2, 2]
    assert main(argv) == 0
    again = json.loads((out / "report.json").read_text())
    assert [s["model_calls"] for s in again["systems_stats"]] == [0, 0, 0]
    assert again["comparisons"] == first["comparisons"]
    assert "W/T/L" in capsys.readouterr().out
