"""Intake: CPU per `GET /report` and per `POST /report`, and where it goes (cProfile).

Run: `.venv/bin/python -m bench.profile_intake --requests 300 [--top 25]`.
The app runs in-process through Flask's test client on a SQLite file with real CSRF
tokens; each round opens the form, then posts the tests' realistic report.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from pathlib import Path

from adr import create_app
from adr.extensions import db
from tests.conftest import hidden_inputs, valid_report


def rounds(client, count: int, profile: cProfile.Profile | None) -> tuple[float, float]:
    """Open the form and post a report `count` times; return the CPU seconds of GETs and POSTs."""
    report = valid_report()
    get_cpu = post_cpu = 0.0
    for _ in range(count):
        started = time.process_time()
        if profile:
            profile.enable()
        page = client.get("/report").get_data(as_text=True)
        if profile:
            profile.disable()
        opened = time.process_time()
        if profile:
            profile.enable()
        response = client.post("/report", data={**hidden_inputs(page), **report})
        if profile:
            profile.disable()
        post_cpu += time.process_time() - opened
        get_cpu += opened - started
        assert response.status_code == 303, response.status_code
    return get_cpu, post_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=0, help="print the top N functions (cumtime)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["ADR_INSTANCE_PATH"] = folder
        config = {
            "TESTING": False,
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'adr.sqlite3'}",
            "RATELIMIT_ENABLED": False,
            "MAIL_BACKGROUND": False,
            "LOG_LEVEL": "WARNING",
        }
        app = create_app(config)
        with app.app_context():
            db.create_all()
        client = app.test_client()
        rounds(client, 20, None)  # warm up: imports, template compilation, caches
        get_cpu, post_cpu = rounds(client, args.requests, None)
        print(f"GET /report   {get_cpu / args.requests * 1000:6.2f} ms CPU per request")
        print(f"POST /report  {post_cpu / args.requests * 1000:6.2f} ms CPU per request")
        if args.top:
            profile = cProfile.Profile()
            rounds(client, args.requests, profile)
            stats = pstats.Stats(profile).sort_stats("cumulative")
            stats.print_stats(args.top)


if __name__ == "__main__":
    main()
