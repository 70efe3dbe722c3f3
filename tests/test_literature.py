"""Literature cases: the citation entered with the report, shown, corrected, and sent in E2B(R3)
C.4.r with the article, and the case's source documents listed in C.1.6.1."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from adr import regulatory
from adr.cases import literature
from adr.extensions import db
from adr.models import AuditEntry, Correction, Document, Report, write_transaction
from adr.regulator import e2b
from tests.conftest import hidden_inputs
from tests.test_cases import entered
from tests.test_e2b import H, case_of, code_reactions, e2b_app, parse
from tests.test_review import REVIEWER, signed_in

TODAY = regulatory.china_today()
IE = "/h:MCCI_IN200100UV01/h:PORR_IN049016UV/h:controlActProcess/h:subject/h:investigationEvent"
CITED = IE + "/h:reference/h:document[h:code/@code='2']"
HELD = IE + "/h:reference/h:document[h:code/@code='1']"
ADDITIONAL = IE + "/h:component/h:observationEvent[h:code/@code='1']/h:value/@value"
ARTICLE = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n" * 40
DOI = "10.1016/j.toxlet.2024.01.007<b>"  # anything after the slash, escaped wherever shown


def article_read(**fields: object) -> dict[str, object]:
    """Return what staff type for a case read in an article: no reporter but its authors."""
    return {
        "case-source": "literature",
        "case-awareness_date": (TODAY - timedelta(days=2)).isoformat(),
        "literature-authors": "Zhang W, Li X, Wang Y",
        "literature-title": "Stevens-Johnson syndrome after amoxicillin: a case report",
        "literature-journal": "Chin J Pharmacovigil",
        "literature-year": str(TODAY.year - 1),
        "literature-volume": "21(3)",
        "literature-pages": "201-3",
        "literature-doi": f"https://doi.org/{DOI}",
        "patient-name": "某女",
        "patient-sex": "female",
        "patient-age": "34",
        "drugs-0-role": "suspect",
        "drugs-0-generic_name": "阿莫西林胶囊",
        "event-name": "皮疹",
        "event-onset_date": (TODAY - timedelta(days=400)).isoformat(),
        "event-outcome": "recovered",
        "event-description": "服药第3天全身皮疹，停药并治疗后痊愈。",
    } | fields


def post(client, fields: dict[str, object]):
    page = client.get("/staff/reports/new").get_data(as_text=True)
    return client.post("/staff/reports/new", data=hidden_inputs(page) | fields)


def attach(report: Report, data: bytes, **columns: object) -> None:
    """Attach a document to a report of the case, as the upload pages store one."""
    row = {"origin": "upload", "filename": "article.pdf", "content_type": "application/pdf"}
    with write_transaction() as session:
        session.add(
            Document(
                **(row | columns),
                case_id=report.case_id,
                report_id=report.id,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                data=data,
                added_at=datetime.now(UTC),
            )
        )


def read(document, path: str) -> list[str]:
    return [str(value) for value in document.xpath(path, namespaces=H)]


@pytest.fixture
def app(tmp_path, monkeypatch):
    yield from e2b_app(tmp_path, monkeypatch)


def test_a_literature_report_needs_its_citation_and_keeps_what_was_typed(app):
    client = signed_in(app, REVIEWER)
    refused = post(
        client,
        article_read(
            **{"literature-authors": "", "literature-year": str(TODAY.year + 1)},
            **{"literature-doi": "doi.org/10.1000"},
        ),
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Stevens-Johnson syndrome after amoxicillin" in page and "Chin J Pharmacovigil" in page
    assert f'value="{TODAY.year + 1}"' in page and 'value="doi.org/10.1000"' in page
    for message in ("请填写文章作者", f"请填写1800至{TODAY.year}之间的年份", "请按刊印填写DOI"):
        assert message in page, message
    other = post(client, article_read(**{"case-source": "phone"}))
    assert other.status_code == 422
    assert "文献出处只属于来源为文献报道的报告" in other.get_data(as_text=True)

    reference = entered(post(client, article_read()))
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        assert (report.literature_doi, report.literature_year) == (DOI, TODAY.year - 1)
        assert report.aware_on == report.day_zero == TODAY - timedelta(days=2)
        assert report.reporter_name == "Zhang W" and report.case.valid_case
    shown = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    assert 'href="https://doi.org/10.1016/j.toxlet.2024.01.007%3Cb%3E"' in shown
    assert "10.1016/j.toxlet.2024.01.007&lt;b&gt;</a>" in shown and "<b>" not in shown


def test_a_literature_case_gives_a_file_with_its_citation_its_article_and_its_documents(
    app, tmp_path
):
    client = signed_in(app, REVIEWER)
    reference = entered(post(client, article_read()))
    with app.app_context():
        case = case_of(reference)
        code_reactions(case)
        attach(case.first_report, ARTICLE)
        attach(case.first_report, b"\xff\xd8scan", filename="信函.jpg", content_type="image/jpeg",
               origin="attachment", description="医院来函扫描件")  # fmt: skip

    page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    token = hidden_inputs(page)["csrf_token"]
    assert 'id="e2b-notes"' not in page and 'id="e2b-problems"' not in page, page
    download = client.post(f"/staff/reports/{reference}/e2b", data={"csrf_token": token})
    assert download.status_code == 200
    assert e2b.check(download.data) == []  # the ICH schemas, then the rules
    document = parse(download.data)
    citation = (
        "Zhang W, Li X, Wang Y. Stevens-Johnson syndrome after amoxicillin: a case report. "
        f"Chin J Pharmacovigil. {TODAY.year - 1};21(3):201-3. doi:{DOI}"
    )
    assert read(document, CITED + "/h:bibliographicDesignationText/text()") == [citation]
    assert read(document, CITED + "/h:code/@codeSystem") == ["2.16.840.1.113883.3.989.2.1.1.27"]
    assert read(document, CITED + "/h:text/@mediaType") == ["application/pdf"]
    assert base64.b64decode(read(document, CITED + "/h:text/text()")[0]) == ARTICLE
    assert read(document, ADDITIONAL) == ["true"]
    assert read(document, HELD + "/h:title/text()") == ["article.pdf", "医院来函扫描件"]
    assert read(document, HELD + "/h:text") == []  # C.1.6.1.r.2: the contents stay here

    # Beyond the limit the article stays out, its citation goes, and the page says so.
    app.config["E2B_MAX_ATTACHMENT_MB"] = len(ARTICLE) / 2 / 1024 / 1024
    written = tmp_path / "smaller.xml"
    result = app.test_cli_runner().invoke(args=["e2b", reference, "-o", str(written)])
    assert result.exit_code == 0 and "ADR_E2B_MAX_ATTACHMENT_MB" in result.output
    smaller = parse(written.read_bytes())
    assert read(smaller, CITED + "/h:bibliographicDesignationText/text()") == [citation]
    assert read(smaller, CITED + "/h:text") == []
    page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    assert 'id="e2b-notes"' in page and "ADR_E2B_MAX_ATTACHMENT_MB" in page


def test_a_citation_is_corrected_with_a_reason_and_the_next_file_carries_it(app):
    client = signed_in(app, REVIEWER)
    reference = entered(post(client, article_read(**{"literature-doi": ""})))
    with app.app_context():
        code_reactions(case_of(reference))

    def correct(field: str, value: str):
        page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
        data = {"report": reference, "field": field, "value": value, "reason": "核对原文"}
        return client.post(
            f"/staff/reports/{reference}/corrections",
            data=data | {"csrf_token": hidden_inputs(page)["csrf_token"]},
        )

    assert correct("literature-journal", "").status_code == 422  # a required part stays
    assert correct("literature-year", str(TODAY.year + 1)).status_code == 422
    assert correct("literature-title", "SJS after amoxicillin").status_code == 303
    assert correct("literature-doi", "https://doi.org/10.1000/182").status_code == 303
    with app.app_context():
        document = parse(e2b.build(case_of(reference)).xml)
        corrected = db.session.scalars(sa.select(Correction.field).order_by(Correction.id)).all()
        audited = db.session.scalars(
            sa.select(AuditEntry.field).where(AuditEntry.action == "corrected")
        ).all()
    (text,) = read(document, CITED + "/h:bibliographicDesignationText/text()")
    assert "SJS after amoxicillin." in text and text.endswith("doi:10.1000/182")
    assert read(document, ADDITIONAL) == ["false"] and read(document, HELD) == []
    assert corrected == audited == ["literature-title", "literature-doi"]


def test_a_literature_report_without_its_citation_gets_no_file_and_says_what_it_lacks(app):
    client = signed_in(app, REVIEWER)
    letter = {"case-source": "letter", "reporter-name": "李医生"}
    empty = {f"literature-{name}": "" for name in literature.FIELDS}
    reference = entered(post(client, article_read(**letter, **empty)))
    with app.app_context():
        case = case_of(reference)
        code_reactions(case)
        with write_transaction():  # the source corrected to the literature, the citation not yet
            case.first_report.source = "literature"
        assert [p.where for p in e2b.problems(case)] == ["#corrections"]
    page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    assert page.count(f"（{reference}）") == 4  # the readiness list: authors, title, journal, year
    assert "文献出处缺少作者、文题、期刊、年份" in page


CHINESE = {"authors": "张伟，李明", "title": "阿莫西林致皮疹1例？", "journal": "中国药物警戒"}
ENGLISH = {"authors": "Smith J.", "title": "Rash.", "journal": "BMJ", "pages": "e1"}


@pytest.mark.parametrize(
    ("cited", "text"),
    [
        (CHINESE | {"year": 2024}, "张伟，李明. 阿莫西林致皮疹1例？ 中国药物警戒. 2024."),
        (ENGLISH | {"year": 2020}, "Smith J. Rash. BMJ. 2020:e1."),
    ],
    ids=["chinese", "english"],
)
def test_the_vancouver_text_leaves_out_what_is_not_given(cited, text):
    report = Report(**{f"literature_{name}": value for name, value in cited.items()})
    assert literature.vancouver(report) == text
