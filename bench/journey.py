"""A reporter's journey on a phone (390 px, WeChat's browser, Chinese) in Debian's chromium,
counted as a person makes it: taps (a tap on a field before typing, a box ticked, a button; a
list box two: open, choose) and characters typed (a date typed as its digits).

Two reports: the minimal valid one (a relative, a rash after 阿莫西林胶囊, the patient's sex, a
phone number, the consent) and a full one sent with the review's mistake (the phone number
1381234, which the form before issue 22 refused only after sending). The flow follows the page:
with a "who is reporting" step (issue 22) it answers that first and gives only what is
required; without it, the form before issue 22, it answers what that form required (a
description of 10 characters or more, the onset date, the outcome, the patient's name, sex and
age, the reporter's name). To measure the code before issue 22, run this file with that
checkout first on the path: `PYTHONPATH=<old checkout> .venv/bin/python bench/journey.py`.
Run: `make bench` (or `.venv/bin/python -m bench.journey`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))  # bench, tests: run as a file

from bench.pages import scratch_app
from tests.browser.live import CHROMIUM, MISSING, PHONE, chromium, serving


@dataclass
class Journey:
    """A phone page and what the person did on it."""

    page: object
    taps: int = 0
    characters: int = 0
    refusals: int = 0

    def tap(self, selector: str) -> None:
        self.page.click(selector)  # type: ignore[attr-defined]
        self.taps += 1

    def type(self, name: str, text: str) -> None:
        page = self.page
        if page.locator(f'[name="{name}-year"]').count():  # type: ignore[attr-defined]
            for part, value in zip(("year", "month", "day"), text.split("-"), strict=True):
                self.type(f"{name}-{part}", value if part == "year" else value.lstrip("0"))
            return
        self.tap(f'[name="{name}"]')
        page.fill(f'[name="{name}"]', text)  # type: ignore[attr-defined]
        self.characters += len(text.replace("-", "")) if "date" in name else len(text)

    def choose(self, name: str, value: str) -> None:
        self.tap(f'[name="{name}"][value="{value}"]')

    def pick(self, name: str, value: str) -> None:
        self.page.select_option(f'[name="{name}"]', value)  # type: ignore[attr-defined]
        self.taps += 2

    def next(self) -> None:
        self.tap("section[data-step]:not([hidden]) .step-nav .primary")

    def send(self) -> None:
        with self.page.expect_navigation():  # type: ignore[attr-defined]
            self.tap("#send-report")


def minimal(journey: Journey, new: bool) -> None:
    """The fewest answers the form takes for a valid case and a way to reach the reporter."""
    if new:
        journey.choose("reporter-kind", "relative")
        journey.next()
    journey.type("event-name", "皮疹")
    if not new:
        journey.type("event-onset_date", "2026-11-20")
        journey.type("event-description", "服药后第二天全身起皮疹很痒")
        journey.choose("event-outcome", "improving")
    journey.next()
    journey.type("drugs-0-generic_name", "阿莫西林胶囊")
    journey.next()
    if not new:
        journey.type("patient-name", "张某某")
        journey.type("patient-age", "62")
    journey.choose("patient-sex", "female")
    journey.next()
    if not new:
        journey.choose("reporter-kind", "relative")
        journey.type("reporter-name", "王丽")
    journey.type("reporter-phone", "13912345678")
    journey.next()
    journey.tap('[name="reporter-consent_privacy"]')
    journey.send()


def full_with_a_mistake(journey: Journey, new: bool) -> None:
    """Every common answer, the phone number mistyped as 1381234 and then put right."""
    page = journey.page
    if new:
        journey.choose("reporter-kind", "relative")
        journey.next()
    journey.type("event-name", "皮疹")
    journey.type("event-onset_date", "2026-11-20")
    journey.type("event-description", "服药后第二天全身出现红色皮疹,伴瘙痒,停药后好转。")
    journey.choose("event-outcome", "improving")
    journey.choose("event-dechallenge", "yes")
    journey.next()
    journey.type("drugs-0-generic_name", "阿莫西林胶囊")
    journey.type("drugs-0-batch_number", "20260315A")
    journey.type("drugs-0-dose", "0.5")
    journey.pick("drugs-0-dose_unit", "g")
    journey.pick("drugs-0-route", "oral")
    journey.type("drugs-0-frequency", "每日3次")
    journey.type("drugs-0-start_date", "2026-11-18")
    journey.type("drugs-0-indication", "急性支气管炎")
    journey.next()
    journey.type("patient-name", "张某某")
    journey.choose("patient-sex", "female")
    journey.type("patient-birth_date", "1964-03-01")
    journey.type("patient-weight_kg", "58")
    journey.next()
    if not new:
        journey.choose("reporter-kind", "relative")
    journey.type("reporter-name", "王丽")
    journey.type("reporter-phone", "1381234")
    journey.next()
    journey.refusals += 1
    if not page.locator("#reporter-phone-check").count():  # type: ignore[attr-defined]
        journey.tap('[name="reporter-consent_privacy"]')  # let through: refused after sending,
        journey.send()  # the page opening at the first error's step
        while not page.locator('[name="reporter-phone"]').is_visible():  # type: ignore[attr-defined]
            journey.next()
    page.fill('[name="reporter-phone"]', "")  # type: ignore[attr-defined]
    journey.type("reporter-phone", "13812345678")
    journey.next()
    if not page.is_checked('[name="reporter-consent_privacy"]'):  # type: ignore[attr-defined]
        journey.tap('[name="reporter-consent_privacy"]')
    journey.send()


def main() -> None:
    print("== journey (phone 390 px, Chinese, the public form in steps) ==")
    if not CHROMIUM:
        print(f"skipped: {MISSING}")
        return
    print(f"{'report':<22} {'form':<7} {'taps':>5} {'characters':>10} {'refused':>8} {'s':>6}")
    with scratch_app() as (app, _), serving(app) as url, chromium() as browser:
        for name, flow in (("minimal", minimal), ("full, with a mistake", full_with_a_mistake)):
            context = browser.new_context(base_url=url, **PHONE)
            page = context.new_page()
            page.goto("/report")
            new = page.locator("#who").count() > 0
            journey = Journey(page)
            started = time.perf_counter()
            flow(journey, new)
            page.wait_for_url("**/report/submitted/*")
            seconds = time.perf_counter() - started
            form = "after" if new else "before"
            print(
                f"{name:<22} {form:<7} {journey.taps:>5} {journey.characters:>10}"
                f" {journey.refusals:>8} {seconds:>6.1f}"
            )
            context.close()


if __name__ == "__main__":
    main()
