"""E2B(R3) files: built, checked against the ICH schemas and rules, kept, downloaded, read back.

The round trip reads every file with the XPath of ../shared/e2b-r3/mapping.md (written here
again, not taken from the builder) and compares each value with the database.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from lxml import etree

from adr import cases, create_app, demo, e2b, meddra, reactions, regulatory, vocab
from adr.extensions import db
from adr.models import Case, Reaction, Report, Submission, TermCoding, write_transaction
from tests import meddra_fixture
from tests.conftest import COMPANY, ReportSender, app_config, reference_of, valid_report
from tests.test_review import ADMIN, REVIEWER, csrf, signed_in

IDS = {"E2B_SENDER_ID": "TN-SENDER-01", "E2B_RECEIVER_ID": "CN-NMPA-CDR", "MAH_ID": "TN0001"}
H = {"h": "urn:hl7-org:v3"}
CL19 = "2.16.840.1.113883.3.989.2.1.1.19"
CODES = meddra_fixture.DEMO_CODES


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    app = create_app(app_config(tmp_path, **IDS))
    with app.app_context():
        db.create_all()
        from adr import accounts

        accounts.create_user(REVIEWER, "审核员", "reviewer", "correct horse battery", "test")
        accounts.create_user(ADMIN, "管理员", "admin", "correct horse battery", "test")
        meddra.import_release(meddra_fixture.write_release(tmp_path / "meddra", "zh"), "test")
    yield app
    with app.app_context():
        db.engine.dispose()


def submit(app, **fields) -> str:
    return reference_of(ReportSender(app.test_client()).send(valid_report() | fields))


def case_of(reference: str) -> Case:
    report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
    return report.case


def code_reactions(case: Case, version: str = meddra_fixture.VERSION) -> None:
    """Code each reaction of the case to the fixture's LLT of its term (皮疹 → Rash)."""
    with write_transaction():
        for reaction in case.reactions:
            reaction.meddra_version = version
            reaction.llt_code = CODES.get(reaction.reported_term, meddra_fixture.RASH)
            reaction.coded_by = "test"


def ready(app, **fields) -> str:
    """Return the reference of a report whose case is coded, ready for a file."""
    reference = submit(app, **fields)
    with app.app_context():
        code_reactions(case_of(reference))
    return reference


def parse(xml: bytes | str):
    data = xml.encode() if isinstance(xml, str) else xml
    return etree.fromstring(data)


def one(document, path: str) -> str:
    found = document.xpath(path, namespaces=H)
    assert len(found) == 1, (path, found)
    return str(found[0])


def test_a_coded_case_gives_a_file_the_schemas_and_rules_accept(app):
    reference = ready(app)
    with app.app_context():
        built = e2b.build(case_of(reference))
    assert e2b.check(built.xml) == []
    document = parse(built.xml)
    assert one(document, "/h:MCCI_IN200100UV01/h:PORR_IN049016UV/h:controlActProcess/h:subject"
               "/h:investigationEvent/h:id[@root='2.16.840.1.113883.3.989.2.1.3.1']/@extension") == (
        f"CN-TN0001-{reference}"
    )


def test_the_case_page_lists_the_problems_and_the_download_keeps_the_file(app):
    reference = submit(app)
    client = signed_in(app, REVIEWER)
    page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    assert 'id="e2b-problems"' in page and 'data-where="#reactions"' in page
    token = csrf(client)
    response = client.post(f"/staff/reports/{reference}/e2b", data={"csrf_token": token, "kind": "report"})
    assert response.status_code == 409
    assert 'data-where="#reactions"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 0
        code_reactions(case_of(reference))
    response = client.post(f"/staff/reports/{reference}/e2b", data={"csrf_token": token, "kind": "report"})
    assert response.status_code == 200, response.get_data(as_text=True)[:3000]
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=CN-TN0001-{reference}-v1.xml"
    )
    assert e2b.check(response.data) == []
    page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    assert 'id="e2b-submissions"' in page and 'id="e2b-correction"' in page
