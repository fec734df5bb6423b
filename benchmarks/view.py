"""Size and load time of `listrank view` reports: synthetic A/B folders (first stage and two
scripted systems, 30 candidates a query, a trace of every call) of 100 to 3,000 queries;
the report is written, then opened in headless Chromium.

Columns: the HTML file's size; seconds to write it; seconds from navigation to the first page
of rows drawn (the script's ready mark); milliseconds of the page's own script (parse of the
embedded JSON and the first draw, from the Performance API); milliseconds to re-sort the
table by another column and to open one query's detail.

    python -m benchmarks.view [--queries 100,1000,3000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from listrank.cli import main as cli
from tests.support import chromium
from tests.support.synthetic_ab import write_synthetic_ab

_TIMED = """(() => {
  const t0 = performance.now();
  document.querySelectorAll('#queries thead th')[3].click();
  const sort = performance.now() - t0;
  const t1 = performance.now();
  document.querySelector('#queries tbody tr').click();
  const detail = performance.now() - t1;
  const nav = performance.getEntriesByType('navigation')[0];
  return {sort, detail, script: nav.domContentLoadedEventEnd - nav.responseEnd};
})()"""


def run(queries: int, work: Path) -> dict[str, float]:
    ab = write_synthetic_ab(work / f"n{queries}", queries=queries, candidates=30)
    html = ab / "report.html"
    start = time.perf_counter()
    assert cli(["view", str(ab), "-o", str(html)]) == 0
    write_s = time.perf_counter() - start
    row: dict[str, float] = {"queries": queries, "mb": html.stat().st_size / 1e6}
    row["write_s"] = write_s
    if not chromium.available():
        return row
    with chromium.browser_page() as page:
        page.open("about:blank")
        start = time.perf_counter()
        page.open(html.as_uri())
        while page.evaluate("document.body.dataset.ready || ''") != "1":
            time.sleep(0.01)
        row["load_s"] = time.perf_counter() - start
        timed = page.evaluate(_TIMED)
        row.update(script_ms=timed["script"], sort_ms=timed["sort"], detail_ms=timed["detail"])
        if page.errors:
            raise RuntimeError(f"the page logged errors: {page.errors}")
    return row


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.view")
    parser.add_argument("--queries", default="100,1000,3000")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.queries.split(",")]
    print(
        f"{'queries':>7} {'MB':>6} {'write s':>8} {'load s':>7} {'script ms':>9} "
        f"{'sort ms':>8} {'detail ms':>9}"
    )
    with tempfile.TemporaryDirectory(prefix="listrank-view-bench-") as tmp:
        for n in sizes:
            r = run(n, Path(tmp))
            cells = [
                f"{r.get(k, float('nan')):{w}.{p}f}"
                for k, w, p in (
                    ("mb", 6, 2),
                    ("write_s", 8, 2),
                    ("load_s", 7, 2),
                    ("script_ms", 9, 0),
                    ("sort_ms", 8, 1),
                    ("detail_ms", 9, 1),
                )
            ]
            print(f"{n:>7} " + " ".join(cells), flush=True)
    if not chromium.available():
        print("(no /usr/bin/chromium: load columns left empty)")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
