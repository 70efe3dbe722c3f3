"""The case as a PDF (the holder's form): the time to make one, first and then again.

One completed case of the tests (two reactions, two lab results, a related disease, the suspect
drug's details) in a temporary SQLite database. The first PDF of a process pays for importing
WeasyPrint and loading the Noto CJK fonts; later ones are timed through the app's route
(`GET /staff/reports/<reference>.pdf`, audit entry included) and, apart, WeasyPrint's part alone.
Run: `make bench` (or `.venv/bin/python -m bench.holder_pdf --repeat 10`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import render_template

from adr import accounts, create_app
from adr.extensions import db
from adr.models import LabResult, Report, write_transaction
from adr.regulator import holder_form
from tests import holder_case
from tests.conftest import app_config, reference_of, send_report, valid_report
from tests.pdf_tools import MISSING, POPPLER
from tests.test_review import PASSWORD, REVIEWER, signed_in


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    print("== the case as a PDF ==")
    if MISSING:
        print(f"skipped: {MISSING}")
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        os.environ["ADR_INSTANCE_PATH"] = scratch
        app = create_app(app_config(folder, LOG_LEVEL="WARNING"))
        with app.app_context():
            db.create_all()
            accounts.create_user(REVIEWER, "审核员", "reviewer", PASSWORD, "bench")
        reference = reference_of(send_report(app, valid_report()))
        holder_case.import_meddra(app, folder)
        holder_case.complete(app, reference)
        client = signed_in(app, REVIEWER)
        path = f"/staff/reports/{reference}.pdf"

        started = time.perf_counter()
        first = client.get(path)
        cold = time.perf_counter() - started
        assert first.status_code == 200, first.status_code
        route = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            response = client.get(path)
            route.append(time.perf_counter() - started)
        weasyprint = []
        with app.test_request_context():
            report = db.session.query(Report).filter_by(reference=reference).one()
            form = holder_form.form_of(report.case, "zh_CN", datetime.now(UTC))
            html = render_template("review/holder_form.html", form=form)
            for _ in range(args.repeat):
                started = time.perf_counter()
                holder_form.render_pdf(html)
                weasyprint.append(time.perf_counter() - started)
        long_case(app, reference)
        started = time.perf_counter()
        long = client.get(path)
        assert long.status_code == 200, long.status_code
        worst = time.perf_counter() - started
        file = folder / "case.pdf"
        file.write_bytes(response.data)
        command = [str(POPPLER["pdfinfo"]), str(file)]
        info = subprocess.run(command, capture_output=True, text=True).stdout  # noqa: S603
        pages = next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:"))
        print(f"first PDF of a process (WeasyPrint imported, fonts loaded): {cold * 1000:.0f} ms")
        print(
            f"each later PDF through the route: median {statistics.median(route) * 1000:.0f} ms, "
            f"slowest {max(route) * 1000:.0f} ms ({args.repeat} times)"
        )
        print(f"of which WeasyPrint alone: median {statistics.median(weasyprint) * 1000:.0f} ms")
        print(f"the file: {len(response.data) / 1024:.0f} KiB, {pages} pages of A4")
        print(
            f"a case of {LONG_ROWS} more lab results of {LONG_TEXT} characters of Chinese each: "
            f"{worst:.1f} s, {len(long.data) / 1024:.0f} KiB"
        )


LONG_ROWS, LONG_TEXT = 20, 2000


def long_case(app: Any, reference: str) -> None:
    """Give the case lab results as long as staff may type them: the layout's worst case."""
    with app.app_context(), write_transaction() as session:
        case = session.scalar(sa.select(Report).where(Report.reference == reference)).case
        for position in range(LONG_ROWS):
            text = ("复查肝功能示转氨酶升高，停药后逐渐恢复。" * LONG_TEXT)[:LONG_TEXT]
            session.add(
                LabResult(
                    case_id=case.id, position=100 + position, test_name=f"检查{position}",
                    result_text=text, more_info=text,
                )
            )  # fmt: skip


if __name__ == "__main__":
    main()
