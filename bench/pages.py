"""Pages on a slow phone: bytes over the wire and first contentful paint, in Debian's chromium.

A phone (390×844, WeChat's browser, Chinese) with a cold cache opens each public page over a
network throttled through the Chrome DevTools Protocol to "slow 3G": 400 ms latency, 400 kbit/s
down and up. The app serves from a thread on 127.0.0.1 (a temporary SQLite database).
Run: `make bench` (or `.venv/bin/python -m bench.pages --repeat 5`).
"""

from __future__ import annotations

import argparse
import gzip
import logging
import os
import statistics
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask

from adr import create_app
from adr.extensions import db
from tests.browser.live import CHROMIUM, MISSING, PHONE, chromium, serving
from tests.conftest import ReportSender, app_config, reference_of, valid_report

SLOW_3G = {
    "offline": False,
    "latency": 400,  # ms, added to each round trip
    "downloadThroughput": 400_000 / 8,  # bytes/s
    "uploadThroughput": 400_000 / 8,
}
FCP = "() => performance.getEntriesByName('first-contentful-paint').map(e => e.startTime)[0]"
LOADED = "() => performance.getEntriesByType('navigation')[0].loadEventEnd"
KINDS = ("Document", "Stylesheet", "Script")  # what the weight counts: HTML, CSS and JS


@dataclass
class Load:
    transferred: int = 0  # bytes on the wire (CDP encodedDataLength): headers and bodies
    raw: int = 0  # HTML + CSS + JS bodies as sent
    gzip: int = 0  # the same bodies, gzip-compressed here: what a compressing server would send
    requests: int = 0
    encodings: set[str] = field(default_factory=set)
    fcp_ms: float = 0.0
    load_ms: float = 0.0  # the load event: every file in, CSS and script applied


def load(browser, url: str) -> Load:
    """Open `url` in a fresh phone context on slow 3G; return what came and when it painted."""
    context = browser.new_context(**PHONE)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_3G)
    kinds: dict[str, str] = {}
    result = Load()

    def received(event: dict) -> None:
        kinds[event["requestId"]] = event["type"]
        encoding = event["response"]["headers"].get("Content-Encoding")
        result.encodings.add(encoding or "none")

    def finished(event: dict) -> None:
        if kinds.get(event["requestId"]) in KINDS:
            result.transferred += int(event["encodedDataLength"])
            result.requests += 1

    cdp.on("Network.responseReceived", received)
    cdp.on("Network.loadingFinished", finished)
    responses = []

    def responded(response) -> None:
        if response.request.resource_type in ("document", "stylesheet", "script"):
            responses.append(response)

    page.on("response", responded)
    page.goto(url, wait_until="load")
    page.wait_for_function(FCP)  # a function, not an expression: the page's CSP forbids eval
    result.fcp_ms = page.evaluate(FCP)
    result.load_ms = page.evaluate(LOADED)
    for response in responses:
        body = response.body()
        result.raw += len(body)
        result.gzip += len(gzip.compress(body))
    context.close()
    return result


@contextmanager
def scratch_app(fill: Callable[[], object] = lambda: None) -> Iterator[tuple[Flask, str]]:
    """Yield an app on a temporary SQLite database, filled by `fill` in its app context, and
    the reference of one report sent through its form."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        os.environ["ADR_INSTANCE_PATH"] = folder
        config = app_config(Path(folder), TESTING=False, LOG_LEVEL="WARNING", MAIL_BACKGROUND=False)
        app = create_app(config)
        with app.app_context():
            db.create_all()
            fill()
        yield app, reference_of(ReportSender(app.test_client()).send(valid_report()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="loads of each page (median)")
    args = parser.parse_args()
    print("== pages (phone, slow 3G: 400 ms latency, 400 kbit/s down and up, cold cache) ==")
    if not CHROMIUM:
        print(f"skipped: {MISSING}")
        return
    with scratch_app() as (app, reference):
        paths = ["/", "/report", f"/report/submitted/{reference}"]
        with serving(app) as url, chromium() as browser:
            print(
                f"{'page':<20} {'requests':>8} {'on the wire':>11} {'raw':>7} {'gzip est.':>9}"
                f" {'encoding':<8} {'FCP':>7} {'load':>7}"
            )
            for path in paths:
                loads = [load(browser, url + path) for _ in range(args.repeat)]
                first = loads[0]  # the same bytes every time; the times vary
                fcp = statistics.median(one.fcp_ms for one in loads)
                loaded = statistics.median(one.load_ms for one in loads)
                name = "/report/submitted/…" if "submitted" in path else path
                print(
                    f"{name:<20} {first.requests:>8} {first.transferred:>9} B {first.raw:>7}"
                    f" {first.gzip:>7} B {','.join(sorted(first.encodings)):<8}"
                    f" {fcp:>4.0f} ms {loaded:>4.0f} ms"
                )


if __name__ == "__main__":
    main()
