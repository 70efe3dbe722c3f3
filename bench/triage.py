"""Triage: a reviewer works through 20 new cases of the queue in Debian's chromium (desktop,
1280 px, Chinese), as issue 21's review did by hand: open the case from the queue, assess it
(status, expectedness, company causality, a note), save, on to the next.

Each action is counted as a person makes it: a click (a select counts two: open, choose), a
keystroke (each character of the note, each shortcut), a save; and where the assessment
starts on the page (px from the top) and how tall the page is. Seconds are wall time per
case, the browser driven at machine speed, so they measure the pages and saves, not a person.

The flow follows the page: on a case page with the triage panel (issue 21) it is the
keyboard flow (queue: `j`, `o`; case: `a`, the answers, Ctrl+Enter to save and open the next);
otherwise the flow before it (click the case, scroll to the assessment, received → in review,
save, → assessed, save, back to the list). To measure the code before issue 21, run this file
with that checkout first on the path:
`PYTHONPATH=<old checkout> .venv/bin/python bench/triage.py`.
Run: `make bench` (or `.venv/bin/python -m bench.triage`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))  # bench, tests: run as a file

from adr import accounts, demo, regulatory
from bench.pages import scratch_app
from tests.browser.live import CHROMIUM, DESKTOP, MISSING, chromium, serving

STAFF, PASSWORD = "reviewer@tianning.example", "triage password"
NOTE = "已评价"
ASSESSMENT_TOP = "() => document.querySelector('#assessment').getBoundingClientRect().top + scrollY"


@dataclass
class Count:
    """What a person did on one case."""

    clicks: int = 0
    keys: int = 0
    saves: int = 0
    seconds: float = 0.0
    top: list[float] = field(default_factory=list)  # where the assessment starts, px
    height: list[float] = field(default_factory=list)  # how tall the case page is, px


def measure(page, count: Count) -> None:
    count.top.append(page.evaluate(ASSESSMENT_TOP))
    count.height.append(page.evaluate("() => document.documentElement.scrollHeight"))


def answer(page, count: Count) -> None:
    """Expectedness, company causality and the note, as a person gives them."""
    page.check("[name=expectedness][value=listed]")
    page.check("[name=company_causality][value=possible]")
    page.click("#note")
    page.keyboard.type(NOTE)
    count.clicks += 3
    count.keys += len(NOTE)


def before(page, queue: str, cases: int) -> list[Count]:
    """Click the case, assess, save as in review, save again as assessed, back to the list."""
    counts = []
    for _ in range(cases):
        page.goto(queue)
        count = Count()
        started = time.perf_counter()
        page.locator("table.cases tbody tr a").first.click()
        page.wait_for_selector("#assessment")
        count.clicks += 1
        measure(page, count)
        page.select_option("#status", "in_review")
        answer(page, count)
        with page.expect_navigation():
            page.click("#assessment button[type=submit]")
        page.select_option("#status", "assessed")
        with page.expect_navigation():
            page.click("#assessment button[type=submit]")
        count.clicks += 2 + 1 + 2 + 1  # two selects, two saves
        count.saves += 2
        page.get_by_role("link", name="个例报告", exact=True).or_(
            page.get_by_role("link", name="报告", exact=True)
        ).first.click()  # back to the list (the menu's word before and after issue 21)
        page.wait_for_url("**/staff/reports*")
        count.clicks += 1
        count.seconds = time.perf_counter() - started
        counts.append(count)
    return counts


def after(page, queue: str, cases: int) -> list[Count]:
    """From the queue by keyboard; on each case `a`, the answers, Ctrl+Enter: the next opens."""
    page.goto(queue)
    counts = []
    started = time.perf_counter()
    page.keyboard.press("j")
    with page.expect_navigation():
        page.keyboard.press("o")
    first = Count(keys=2)
    for number in range(cases):
        count = first if number == 0 else Count()
        measure(page, count)
        page.keyboard.press("a")
        page.select_option("#status", "assessed")  # received → assessed in one save
        count.keys += 1
        count.clicks += 2
        answer(page, count)
        with page.expect_navigation():
            page.keyboard.press("Control+Enter")
        count.keys += 1
        count.saves += 1
        now = time.perf_counter()
        count.seconds, started = now - started, now
        counts.append(count)
    return counts


def fill() -> None:
    """300 demo reports of this month (as the review had), and the reviewer."""
    demo.make_demo_data(300, f"{datetime.now(regulatory.CHINA):%Y-%m}", seed=21)
    accounts.create_user(STAFF, "审核员", "reviewer", PASSWORD, "bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=20)
    args = parser.parse_args()
    print("== triage (desktop 1280 px, Chinese, 300 demo reports) ==")
    if not CHROMIUM:
        print(f"skipped: {MISSING}")
        return
    with scratch_app(fill) as (app, _), serving(app) as url, chromium() as browser:
        context = browser.new_context(base_url=url, **DESKTOP | {"locale": "zh-CN"})
        page = context.new_page()
        page.goto("/login?lang=zh_CN")
        page.fill("[name=email]", STAFF)
        page.fill("[name=password]", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_url("**/staff/")
        queue = "/staff/reports?status=received"
        page.goto(queue)
        page.locator("table.cases tbody tr a").first.click()
        page.wait_for_selector("#assessment")  # the case page tells which flow it takes
        flow, work = (
            ("after", after) if page.locator("#save-and-next").count() else ("before", before)
        )
        counts = work(page, queue, args.cases)
        context.close()
    median = statistics.median
    print(
        f"{'flow':<7} {'cases':>5} {'clicks':>6} {'keys':>5} {'of them note':>12} {'saves':>5}"
        f" {'s/case':>7} {'assessment at px':>16} {'page px':>8}"
    )
    print(
        f"{flow:<7} {len(counts):>5} {median(c.clicks for c in counts):>6.1f}"
        f" {median(c.keys for c in counts):>5.1f} {len(NOTE):>12}"
        f" {median(c.saves for c in counts):>5.0f} {median(c.seconds for c in counts):>7.2f}"
        f" {median(t for c in counts for t in c.top):>16.0f}"
        f" {median(h for c in counts for h in c.height):>8.0f}"
    )


if __name__ == "__main__":
    main()
