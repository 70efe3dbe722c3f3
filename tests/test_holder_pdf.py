"""The case as the holder's form, a PDF: read back with poppler-utils, every section and value."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from adr import accounts, vocab
from adr.models import Report, write_transaction
from tests import holder_case
from tests.pdf_tools import MISSING, POPPLER
from tests.test_review import PASSWORD, RETIRED, REVIEWER, signed_in, submit, trail

needs_pdf = pytest.mark.skipif(bool(MISSING), reason=MISSING or "")
SECTIONS = [
    "basics",
    "patient",
    "diseases",
    "past_adr",
    "history",
    "suspect",
    "concomitant",
    "reactions",
    "description",
    "labs",
    "pregnancy",
    "reporter",
    "remarks",
]
HOSTILE = "<b>粗体</b> & <img src='http://example.invalid/x.png'> =1+1"


def poppler(tool: str, *args: str) -> str:
    """Return what a poppler-utils tool prints of its arguments."""
    command = [str(POPPLER[tool]), *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def staff(app):
    with app.app_context():
        accounts.create_user(REVIEWER, "审核员", "reviewer", PASSWORD, "test")
        accounts.create_user(RETIRED, "离职", "reviewer", PASSWORD, "test")
    return app


@pytest.fixture
def completed(staff, tmp_path):
    """A serious-free case of two reactions, completed for the holder's form, and its reference."""
    holder_case.import_meddra(staff, tmp_path)
    reference = submit(staff, {"remarks": HOSTILE})
    holder_case.complete(staff, reference)
    return reference


def pdf_of(client, path: str, tmp_path: Path) -> tuple[str, Path]:
    """Return the PDF at `path` as `pdftotext -layout` and then `-raw` read it, and its file."""
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert response.mimetype == "application/pdf"
    file = tmp_path / "case.pdf"
    file.write_bytes(response.data)
    # The page as laid out (a heading is a line of its own), then in drawing order: a table
    # cell wrapped over two lines reads whole there.
    layout = poppler("pdftotext", "-layout", str(file), "-")
    return layout + "\n" + poppler("pdftotext", "-raw", str(file), "-"), file


def squeezed(text: str) -> str:
    """Return text without its spaces and line breaks: the layout spaces columns freely."""
    return re.sub(r"\s+", "", text)


@needs_pdf
def test_the_pdf_prints_every_section_and_value_of_a_completed_case(staff, completed, tmp_path):
    client = signed_in(staff, REVIEWER)
    text, file = pdf_of(client, f"/staff/reports/{completed}.pdf", tmp_path)
    at = 0
    for key in SECTIONS:  # each heading on a line of its own, in the form's order
        heading = re.compile(rf"^\s*{re.escape(vocab.HOLDER_FORM[key].zh)}\s*$", re.MULTILINE)
        found = heading.search(text, at)
        assert found, key
        at = found.end()
    flat = squeezed(text)
    values = [
        vocab.HOLDER_FORM["title"].zh,
        "□严重报告",
        "□境外报告",
        "■首次报告",
        "□跟踪报告",
        "■经营企业",
        "□监管机构",
        completed,
        # The patient: pinyin initials of 张某某, the phone withheld (E2B's default settings).
        "患者姓名Z",
        "性别女",
        "1958-03-14",
        "68岁",
        "国籍中国",
        "汉族",
        "158.5",
        "62.5",
        "患者联系电话(已隐去)",
        "绥德县医院",
        "MZ20261120",
        # Related diseases, history.
        "1急性支气管炎",
        "2高血压83000016高血压2015-06-01是",
        "有:青霉素皮疹",
        "吸烟史、过敏史:青霉素皮试阳性",
        # The suspect drug as staff completed it, and the other drug.
        "国药准字H61020123",
        "商品名天宁",
        "阿莫西林胶囊",
        "剂型胶囊",
        "规格0.25g",
        "20260315A",
        "2028-03-31",
        "0.5g口服每日3次",
        "2026-11-20至2026-11-22",
        "用药时间3天",
        "采取的措施停药",
        "盐酸氨溴索片",
        "30mg口服每日2次",
        "2026-11-20至今",
        # The reactions, coded, with the judgements of the suspect drug.
        "1.不良反应名称:皮疹",
        "2.不良反应名称:瘙痒",
        "83000001皮疹",
        "83000002瘙痒",
        "2026-11-21",
        "2026-11-25",
        "好转",
        "陕西省榆林市",
        "很可能肯定",
        "服药第二天躯干出现红色皮疹伴瘙痒",
        # Lab results.
        "1谷丙转氨酶2026-11-2188U/L040复查",
        "2嗜酸性粒细胞计数2026-11-22升高",
        # The reporter and the holder.
        "王丽",
        "药师",
        "13912345678",
        "wangli@example.com",
        "榆林市天宁大药房",
        "网站表单",
        "400-840-1008、0912-5647197",
        squeezed(HOSTILE),  # typed text stays text: escaped, nothing fetched
    ]
    for value in values:
        assert value in flat, value
    assert "张某某" not in text and "0912-5647197" not in text.split("持有人联系电话")[0]
    footer = rf"病例编号: {completed}\s+打印日期: \d{{4}}-\d\d-\d\d\s+1\s*/\s*\d"
    assert re.search(footer, text)
    assert re.search(r"Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)", poppler("pdfinfo", str(file)))
    fonts = poppler("pdffonts", str(file))
    rows = [line.split() for line in fonts.splitlines()[2:] if line.strip()]
    assert rows and any("CJK" in row[0] for row in rows)
    assert all(row[-5] == "yes" for row in rows), fonts  # emb: every font embedded


@needs_pdf
def test_the_download_is_audited_and_named_by_the_case(staff, completed, tmp_path):
    follow_up = submit(staff, {"follow_up_of": completed, "event-description": "复诊未见复发。"})
    client = signed_in(staff, REVIEWER)
    response = client.get(f"/staff/reports/{follow_up}.pdf")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f"inline; filename={completed}.pdf"
    assert response.headers["Cache-Control"] == "no-store"
    entries = [e for e in trail(staff, follow_up) if e.action == "PDF downloaded"]
    assert [(e.actor, e.field) for e in entries] == [(REVIEWER, None)]
    (tmp_path / "case.pdf").write_bytes(response.data)
    flat = squeezed(poppler("pdftotext", "-layout", str(tmp_path / "case.pdf"), "-"))
    # 首次报告 until a report of the case went to the national system (填表说明 一.3).
    assert "■首次报告" in flat and "复诊未见复发。" in flat  # every report's description
    with staff.app_context(), write_transaction() as session:
        first = session.scalar(sa.select(Report).where(Report.reference == completed))
        first.submitted_to_regulator_on = date(2026, 12, 1)
    sent, _ = pdf_of(client, f"/staff/reports/{follow_up}.pdf", tmp_path)
    assert "■跟踪报告" in squeezed(sent)
    assert re.search(rf"首次报告\d{{4}}-\d\d-\d\d{completed}服药第二天", flat)
    assert re.search(rf"跟踪报告\d{{4}}-\d\d-\d\d{follow_up}复诊未见复发", flat)


@needs_pdf
def test_a_pregnancy_a_parent_and_a_death_overseas(staff, tmp_path):
    holder_case.import_meddra(staff, tmp_path)
    reference = submit(
        staff,
        {
            "patient-birth_date": "1996-05-02",
            "patient-age": "30",
            "event-outcome": "death",
            "event-death_cause": "过敏性休克",
            "event-death_date": "2026-11-23",
        },
    )
    holder_case.complete(
        staff,
        reference,
        occurrence_country="JP",
        autopsy="yes",
        autopsy_findings="喉头水肿",
        pregnancy_lmp=date(2026, 6, 1),
        gestation_exposure_weeks=24,
        gestation_reaction_weeks=25,
        pregnancy_outcome="stillbirth",
        pregnancy_detail="孕25周死产",
        parent_child=True,
        parent_initials="LM",
        parent_age_years=31,
        parent_sex="female",
        parent_weight_kg=60.5,
        parent_height_cm=162.0,
        parent_history="妊娠期高血压",
    )
    text, _ = pdf_of(signed_in(staff, REVIEWER), f"/staff/reports/{reference}.pdf", tmp_path)
    flat = squeezed(text)
    for value in [
        "■严重报告",
        "■境外报告",
        "日本",
        "导致死亡",
        "结果死亡",
        "直接死因过敏性休克",
        "死亡时间2026-11-23",
        "是否尸检有",
        "尸检结果喉头水肿",
        "2026-06-01",
        "用药时孕周24",
        "25",
        "死产",
        "孕25周死产",
        vocab.HOLDER_FORM["parent"].zh,
        "LM",
        "31",
        "60.5",
        "162",
        "妊娠期高血压",
    ]:
        assert value in flat, value


@needs_pdf
def test_privacy_settings_decide_the_name_and_phone_and_labels_read_english(
    staff, completed, tmp_path
):
    client = signed_in(staff, REVIEWER)
    staff.config.update(E2B_PATIENT_NAME="name", E2B_PATIENT_PHONE=True)
    flat = squeezed(pdf_of(client, f"/staff/reports/{completed}.pdf", tmp_path)[0])
    assert "患者姓名张某某" in flat and "患者联系电话0912-5647197" in flat
    staff.config.update(E2B_PATIENT_NAME="masked")
    text = pdf_of(client, f"/staff/reports/{completed}.pdf?lang=en", tmp_path)[0]
    flat = squeezed(text)
    assert "Marketing authorisation holder's adverse drug reaction report" in text
    assert "Patient'sname(withheld)" in flat and "Dateofbirth(withheld)" in flat
    assert "Patient'sphone(withheld)" in flat and "Hospital(withheld)" in flat
    assert "68years" in flat and "1958-03-14" not in flat and "Female" in flat


def test_only_signed_in_staff_get_it_and_an_unknown_case_is_404(staff, completed):
    path = f"/staff/reports/{completed}.pdf"
    anonymous = staff.test_client().get(path)
    assert anonymous.status_code == 302 and anonymous.location.startswith("/login?next=/staff")
    retired = signed_in(staff, RETIRED)
    with staff.app_context():
        accounts.set_active(RETIRED, False, "test")
    assert retired.get(path).status_code == 302
    client = signed_in(staff, REVIEWER)
    for unknown in ("ADR-202611-ZZZZZZ", "nothing", "%00", "ADR-2026" + "9" * 300):
        assert client.get(f"/staff/reports/{unknown}.pdf").status_code == 404, unknown
    assert not [e for e in trail(staff) if e.action == "PDF downloaded"]


def test_without_weasyprint_the_page_says_which_packages_to_install(staff, completed, monkeypatch):
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # as if it could not be imported
    client = signed_in(staff, REVIEWER)
    response = client.get(f"/staff/reports/{completed}.pdf")
    assert response.status_code == 503 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert 'id="pdf-unavailable"' in page
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "fonts-noto-cjk"):
        assert package in page
    assert f'href="/staff/reports/{completed}"' in page
    assert not [e for e in trail(staff) if e.action == "PDF downloaded"]


def test_the_app_loads_without_weasyprint_until_a_pdf_is_asked_for():
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['weasyprint'] = None; "
            "import adr.review, adr.regulator.holder_form; print('loaded')",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert imported.returncode == 0 and imported.stdout.strip() == "loaded", imported.stderr


@needs_pdf
def test_two_packs_of_one_drug_print_as_two_with_their_batches(staff, tmp_path):
    second_pack = {
        "drugs-1-role": "suspect",
        "drugs-1-approval_number": "国药准字H61020123",
        "drugs-1-generic_name": "阿莫西林胶囊",
        "drugs-1-batch_number": "20250101B",
        "drugs-1-expiry_date": "2027-01-31",
        "drugs-1-start_date": "2026-11-10",
        "drugs-1-end_date": "2026-11-19",
    }
    reference = submit(staff, {**second_pack, "drugs-0-expiry_date": "2028-02-29"})
    client = signed_in(staff, REVIEWER)
    text = squeezed(pdf_of(client, f"/staff/reports/{reference}.pdf", tmp_path)[0])
    assert "怀疑用药1" in text and "怀疑用药2" in text
    for value in ("20260315A", "2028-02-29", "20250101B", "2027-01-31", "2026-11-10至2026-11-19"):
        assert value in text, value
