"""Issue 23's journey, through the app as its users use it: a patient reports through the public
form; a reviewer completes the holder's form section by section until the case is ready for the
national system, then downloads the E2B(R3) file and the printable case, which carry it all."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from lxml import etree

from adr import vocab
from adr.extensions import db
from adr.models import Report
from tests import meddra_fixture
from tests.conftest import reference_of, send_report, valid_report
from tests.pdf_tools import MISSING
from tests.test_coding import post, reaction_named
from tests.test_e2b import DRG, FR, HISTORY, H, e2b_app
from tests.test_holder import gaps
from tests.test_holder_pdf import SECTIONS, pdf_of, squeezed
from tests.test_review import REVIEWER, signed_in


@pytest.fixture
def app(tmp_path, monkeypatch):
    yield from e2b_app(tmp_path, monkeypatch)


def test_a_reviewer_completes_a_serious_case_and_sends_it_with_everything(app, tmp_path):
    # The patient's report: the expiry date on the pack, the city it happened in.
    fields = valid_report() | {
        "drugs-0-expiry_date": "2028-02-29",
        "event-province": "陕西省",
        "event-city": "榆林市",
        "event-serious": ["hospitalization"],
    }
    reference = reference_of(send_report(app, fields))
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        assert report.drugs[0].expiry_date.isoformat() == "2028-02-29"
        assert (report.event_province, report.event_city) == ("陕西省", "榆林市")

    client = signed_in(app, REVIEWER)
    path = f"/staff/reports/{reference}"
    assert set(gaps(client, reference)) == {"#holder-drug-0", "#pairs"}
    for term in ("皮疹", "瘙痒"):  # the reactions coded to MedDRA, as the E2B file needs
        reaction = reaction_named(app, reference, term)
        code = meddra_fixture.DEMO_CODES[term]
        assert (
            post(client, f"{path}/coding", {"reaction": reaction.id, "llt_code": code}).status_code
            == 303
        )
    pairs = {
        f"pair-{reaction_named(app, reference, term).id}-0-company_causality": "probable"
        for term in ("皮疹", "瘙痒")
    }
    assert (
        post(client, f"{path}/judgements", {"drug-0": "阿莫西林胶囊", **pairs}).status_code == 303
    )
    assert gaps(client, reference) == ["#holder-drug-0"]
    # Section by section: the drug's dosage form and strength, two lab results, a disease.
    drug = {"drug": "阿莫西林胶囊", "dosage_form": "胶囊剂", "strength": "0.25g"}
    assert post(client, f"{path}/holder/drugs/0", drug).status_code == 303
    for lab in (
        {
            "test_name": "嗜酸性粒细胞计数",
            "test_date": "2026-11-22",
            "result": "0.9",
            "unit": "10^9/L",
            "normal_low": "0.02",
            "normal_high": "0.52",
        },
        {"test_name": "皮肤斑贴试验", "test_date": "2026-11-25", "result": "阳性"},
    ):
        assert post(client, f"{path}/holder/labs", lab).status_code == 303
    disease = {"name": "高血压", "start_date": "2015-03-01", "continuing": "yes"}
    assert post(client, f"{path}/holder/diseases", disease).status_code == 303
    page = client.get(path).get_data(as_text=True)
    assert 'id="national-ready"' in page and "可以提交国家系统" in page

    # The E2B file carries each of them.
    response = post(client, f"{path}/e2b", {"kind": "report"})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    document = etree.fromstring(response.data)
    tests = document.xpath(FR + "/h:code/h:originalText/text()", namespaces=H)
    assert tests == ["嗜酸性粒细胞计数", "皮肤斑贴试验"]
    assert document.xpath(FR + "/h:value[@xsi:type='IVL_PQ']/h:center/@value", namespaces=H) == [
        "0.9"
    ]
    assert document.xpath(FR + "/h:value[@xsi:type='ED']/text()", namespaces=H) == ["阳性"]
    history = "".join(document.xpath(HISTORY + "//text()", namespaces=H))
    assert "高血压" in history and "急性支气管炎" in history
    kind = "h:consumable/h:instanceOfKind/h:kindOfProduct"
    form = f"h:outboundRelationship2/h:substanceAdministration/{kind}/h:formCode/h:originalText"
    assert set(document.xpath(f"{DRG}[1]/{form}/text()", namespaces=H)) == {"胶囊剂"}
    strength = f"{kind}/h:ingredient/h:quantity/h:numerator"
    assert document.xpath(f"{DRG}[1]/{strength}/@value", namespaces=H) == ["0.25"]
    assert re.search(r"attachment; filename=", response.headers["Content-Disposition"])

    # The printable case: the holder's form with every section, the values just completed.
    assert f'href="{path}.pdf"' in page
    if MISSING:
        pytest.skip(f"the PDF half: {MISSING}")
    text = squeezed(pdf_of(client, f"{path}.pdf", tmp_path)[0])
    for key in SECTIONS:
        assert squeezed(vocab.HOLDER_FORM[key].zh) in text, key
    for value in (
        "嗜酸性粒细胞计数",
        "皮肤斑贴试验",
        "阳性",
        "高血压",
        "胶囊剂",
        "0.25g",
        "2028-02-29",
        "榆林市",
        reference,
    ):
        assert value in text, value
