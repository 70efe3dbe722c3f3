"""Screenshots for the README: `make screenshots` writes docs/screenshots/*.png.

The app serves a temporary SQLite database holding demo reports and one report sent through
the form; Debian's chromium takes each shot in SHOTS: open the path on the device, do the
actions, save. To add one (a step of the form, say), add a line to SHOTS.
Run: `make screenshots` (or `.venv/bin/python -m bench.screenshots`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from adr import accounts, demo, regulatory
from bench.pages import scratch_app
from tests.browser.conftest import fill_form, send_as_is
from tests.browser.live import CHROMIUM, DESKTOP, MISSING, PHONE, chromium, serving
from tests.browser.test_steps import MEDICINE, PATIENT, REACTION, REPORTER, WHO

FOLDER = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
STAFF, PASSWORD = "reviewer@tianning.example", "screenshot password"
Action = Callable[[Any], object]


def refuse(page) -> None:
    """Send the form empty, past the steps' own checks."""
    send_as_is(page)
    page.wait_for_selector("#error-summary")


def step(number: int) -> Action:
    """Fill the steps before step `number` of the phone form and move on to it."""

    def go(page) -> None:
        for fields in (WHO, REACTION, MEDICINE, PATIENT, REPORTER)[: number - 1]:
            fill_form(page, fields)
            page.locator("section[data-step]:visible .step-nav .primary").click()

    return go


def sign_in(page) -> None:
    page.goto("/login")
    page.fill("[name=email]", STAFF)
    page.fill("[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url("**/staff/")


@dataclass
class Shot:
    name: str  # docs/screenshots/<name>.png
    path: str  # {reference}: the report sent through the form
    actions: tuple[Action, ...] = ()
    device: str = "phone"  # or "staff": a desktop signed in as a reviewer, in Chinese
    full_page: bool = False


SHOTS = [
    *(Shot(f"form-step-{number}", "/report", (step(number),)) for number in range(1, 7)),
    Shot("refused", "/report", (refuse,)),
    Shot("confirmation", "/report/submitted/{reference}", full_page=True),
    Shot("staff-list", "/staff/reports", device="staff"),
    Shot("case", "/staff/reports/{reference}", device="staff"),
]
DEVICES = {
    "phone": PHONE | {"device_scale_factor": 1},  # small files: the README shows them small
    "staff": DESKTOP | {"locale": "zh-CN"},
}


def fill() -> None:
    """Demo reports of this month, and the reviewer who takes the staff shots."""
    demo.make_demo_data(40, f"{datetime.now(regulatory.CHINA):%Y-%m}", seed=10)
    accounts.create_user(STAFF, "审核员", "reviewer", PASSWORD, "screenshots")


def main() -> None:
    if not CHROMIUM:
        sys.exit(f"make screenshots: {MISSING}")
    FOLDER.mkdir(parents=True, exist_ok=True)
    with scratch_app(fill) as (app, reference), serving(app) as url, chromium() as browser:
        staff = browser.new_context(base_url=url, **DEVICES["staff"])
        sign_in(staff.new_page())
        for shot in SHOTS:
            # Each phone shot in a browser of its own: no draft of the shot before.
            fresh = shot.device != "staff"
            context = browser.new_context(base_url=url, **DEVICES[shot.device]) if fresh else staff
            page = context.new_page()
            page.goto(shot.path.format(reference=reference))
            for action in shot.actions:
                action(page)
            path = FOLDER / f"{shot.name}.png"
            page.screenshot(path=path, full_page=shot.full_page)
            page.close()
            if fresh:
                context.close()
            print(path.relative_to(FOLDER.parent.parent))


if __name__ == "__main__":
    main()
