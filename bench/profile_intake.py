"""Intake: CPU per `GET /report` and per `POST /report`, and where it goes (cProfile).

Run: `.venv/bin/python -m bench.profile_intake --requests 300 [--top 25]`.
The app runs in-process through Flask's test client on a SQLite file with real CSRF
tokens; each round opens the form, then posts the tests' realistic report. CPU is counted
around the app's WSGI call, so the test client's own work is left out.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from adr import create_app
from adr.extensions import db
from tests.conftest import hidden_inputs, valid_report


class CPUMeter:
    """WSGI middleware that adds up the CPU time the app spends on each request method."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app
        self.seconds: Counter[str] = Counter()
        self.profile: cProfile.Profile | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        started = time.process_time()
        if self.profile:
            self.profile.enable()
        try:
            return list(self.wsgi_app(environ, start_response))  # the body is made here too
        finally:
            if self.profile:
                self.profile.disable()
            self.seconds[environ["REQUEST_METHOD"]] += time.process_time() - started


def rounds(client, meter: CPUMeter, count: int) -> tuple[float, float]:
    """Open the form and post a report `count` times; return the app's CPU ms per GET and POST."""
    report = valid_report()
    meter.seconds.clear()
    for _ in range(count):
        page = client.get("/report").get_data(as_text=True)
        response = client.post("/report", data={**hidden_inputs(page), **report})
        assert response.status_code == 303, response.status_code
    return meter.seconds["GET"] * 1000 / count, meter.seconds["POST"] * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=0, help="print the top N functions (cumtime)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["ADR_INSTANCE_PATH"] = folder
        config = {
            "TESTING": False,
            "SECRET_KEY": "the benchmark's secret key, long enough for production",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'adr.sqlite3'}",
            "RATELIMIT_ENABLED": False,
            "MAIL_BACKGROUND": False,
            "LOG_LEVEL": "WARNING",
        }
        app = create_app(config)
        with app.app_context():
            db.create_all()
        meter = CPUMeter(app.wsgi_app)
        app.wsgi_app = meter  # type: ignore[method-assign]
        client = app.test_client()
        rounds(client, meter, 20)  # warm up: imports, template compilation, caches
        get_ms, post_ms = rounds(client, meter, args.requests)
        print(f"GET /report   {get_ms:6.2f} ms CPU per request (in the app, test client aside)")
        print(f"POST /report  {post_ms:6.2f} ms CPU per request (in the app, test client aside)")
        if args.top:
            meter.profile = cProfile.Profile()
            rounds(client, meter, args.requests)
            stats = pstats.Stats(meter.profile).sort_stats("cumulative")
            stats.print_stats(args.top)


if __name__ == "__main__":
    main()
