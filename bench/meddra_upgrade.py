"""MedDRA upgrade: importing a newer release recodes the demo cases' coded reactions.

Demo reports are made (`adr demo-data`), their reactions coded to the small synthetic release
27.1 (`tests/meddra_fixture.py`), then release 28.0 (one LLT no longer current, one PT renamed,
as the tests write it) is imported by `adr import-meddra` as its own process: wall time and
peak RSS of the import with its recoding (one audit entry per case, in one transaction).
Run: `.venv/bin/python -m bench.meddra_upgrade [--sizes 10000 100000]`; set
ADR_SQLALCHEMY_DATABASE_URI to measure on PostgreSQL (an empty database).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import sqlalchemy as sa

from adr import create_app
from adr.extensions import db
from adr.models import Reaction
from bench.export import ADR, run
from tests import meddra_fixture
from tests.conftest import app_config
from tests.test_meddra_upgrade import newer_release

MONTH = "2026-03"


def code_every_reaction(folder: str) -> int:
    """Code each demo reaction to the fixture's LLT of its term (else Rash) in 27.1."""
    app = create_app(app_config(Path(folder), TESTING=False, LOG_LEVEL="WARNING"))
    with app.app_context():
        llt = sa.case(
            meddra_fixture.DEMO_CODES, value=Reaction.reported_term, else_=meddra_fixture.RASH
        )
        coded = db.session.execute(
            sa.update(Reaction).values(meddra_version=meddra_fixture.VERSION, llt_code=llt)
        ).rowcount
        db.session.commit()
        db.engine.dispose()
    return coded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    print("== MedDRA upgrade ==")
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            env = os.environ | {"ADR_INSTANCE_PATH": folder, "ADR_MAIL_BACKGROUND": "false"}
            os.environ["ADR_INSTANCE_PATH"] = folder
            run([ADR, "db", "upgrade"], env)
            run([ADR, "demo-data", "--reports", str(size), "--month", MONTH, "--seed", "7"], env)
            old = meddra_fixture.write_release(Path(folder, "27"), "en")
            run([ADR, "import-meddra", str(old)], env)
            coded = code_every_reaction(folder)
            new = newer_release(Path(folder, "28"), "en")
            elapsed, rss, output = run([ADR, "import-meddra", str(new)], env)
            recoded = output.splitlines()[-1]
            print(
                f"{size} reports, {coded} reactions coded: import with recoding {elapsed:.1f} s "
                f"wall, peak RSS {rss} MB ({recoded})"
            )


if __name__ == "__main__":
    main()
