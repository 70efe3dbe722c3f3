"""Issue 12, as a reviewer does it: MedDRA imported, reactions coded on the case page, the
E2B(R3) file downloaded and valid, a follow-up's second version, the acknowledgement read."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa
from lxml import etree

from adr import accounts, create_app
from adr.extensions import db
from adr.models import Report, Submission
from adr.regulator import e2b
from tests.conftest import app_config
from tests.meddra_fixture import PRURITUS, RASH, write_release
from tests.test_acknowledgements import ack_file, message_ack
from tests.test_cases import submit
from tests.test_e2b import IDS
from tests.test_review import REVIEWER, assess, csrf, signed_in

H = {"h": "urn:hl7-org:v3"}
SCHEMA = "adr/schemas/e2b-r3/multicacheschemas/MCCI_IN200100UV01.xsd"


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    app = create_app(app_config(tmp_path, **IDS))
    with app.app_context():
        accounts.create_user(REVIEWER, "审核员", "reviewer", "correct horse battery", "test")
    yield app
    with app.app_context():
        db.engine.dispose()


def code_every_reaction(app, client, reference: str) -> list[int]:
    """Code each uncoded reaction to the first LLT the case page suggests for it."""
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        uncoded = [r.id for r in report.case.reactions if r.llt_code is None]
    page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    chosen = []
    for reaction in uncoded:
        section = page.split(f'id="coding-{reaction}"')[1]
        llt = int(re.search(r'data-llt="(\d+)"', section).group(1))
        response = client.post(
            f"/staff/reports/{reference}/coding",
            data={"csrf_token": csrf(client), "reaction": reaction, "chosen_llt": str(llt)},
        )
        assert response.status_code == 303, response.get_data(as_text=True)[:2000]
        chosen.append(llt)
    return chosen


def download(client, reference: str) -> etree._Element:
    response = client.post(
        f"/staff/reports/{reference}/e2b", data={"csrf_token": csrf(client), "kind": "report"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    document = etree.fromstring(response.data)
    etree.XMLSchema(etree.parse(SCHEMA)).assertValid(document)  # the ICH schemas, offline
    return document


def value(document, path: str) -> str:
    (found,) = document.xpath(path, namespaces=H)
    return str(found)


IE = "/h:MCCI_IN200100UV01/h:PORR_IN049016UV/h:controlActProcess/h:subject/h:investigationEvent"
C11 = IE + "/h:id[@root='2.16.840.1.113883.3.989.2.1.3.1']/@extension"
C15 = IE + "/h:availabilityTime/@value"
MESSAGE_ID = "/h:MCCI_IN200100UV01/h:PORR_IN049016UV/h:id/@extension"
LLTS = "//h:observation[h:code/@code='29']/h:value/@code"


def test_import_code_download_follow_up_and_acknowledgement(app, tmp_path):
    runner = app.test_cli_runner()
    for language in ("en", "zh"):
        result = runner.invoke(
            args=["import-meddra", str(write_release(tmp_path / language, language))]
        )
        assert result.exit_code == 0, result.output
    reference = submit(app, {"event-name": "皮疹、瘙痒"})
    client = signed_in(app, REVIEWER)
    page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    assert 'id="e2b-problems"' in page  # not coded yet: no file, and the page says why
    assert code_every_reaction(app, client, reference) == [RASH, PRURITUS]
    page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    assert 'data-where="#assessment"' in page  # the company has not judged causality yet
    assert assess(client, reference, company_causality="probable").status_code == 303

    first = download(client, reference)
    case_id = value(first, C11)
    assert case_id == f"CN-{IDS['MAH_ID']}-{reference}"
    assert sorted(map(int, first.xpath(LLTS, namespaces=H))) == [RASH, PRURITUS]

    today = date.today().isoformat()
    follow_up = submit(
        app,
        {
            "follow_up_of": reference,
            "event-name": "皮疹、瘙痒、头痛",
            "event-outcome": "recovered",
            "event-onset_date": today,
        },
    )
    assert code_every_reaction(app, client, follow_up) == [83000008]  # 头痛 → Headache
    second = download(client, follow_up)
    assert value(second, C11) == case_id  # C.1.1 stays; C.1.5 and the message move
    assert value(second, C15) >= value(first, C15)
    assert value(second, MESSAGE_ID) != value(first, MESSAGE_ID)
    with app.app_context():
        kept = db.session.scalars(sa.select(Submission).order_by(Submission.id)).all()
        assert [(s.version, s.kind) for s in kept] == [(1, "report"), (2, "report")]
        assert all(e2b.check(s.xml.encode()) == [] for s in kept)
        batch = kept[1].batch_id

    ack = tmp_path / "ack.xml"
    ack.write_bytes(
        ack_file(message_ack(value(second, MESSAGE_ID), national="6120261100999"), batch_id=batch)
    )
    result = runner.invoke(args=["import-ack", str(ack)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        assert report.case.national_case_number == "6120261100999"
        assert db.session.get(Submission, kept[1].id).ack_status == "accepted"
    assert "6120261100999" in client.get(f"/staff/reports/{reference}").get_data(as_text=True)
