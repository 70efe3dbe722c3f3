"""The monthly regulator workbook, read back with openpyxl (and LibreOffice where installed)."""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from itertools import zip_longest
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from adr import create_app, reactions, regulatory, vocab
from adr.cases import merges
from adr.cases.reports import store_report
from adr.extensions import db
from adr.models import (
    Case,
    CaseDisease,
    CaseDrug,
    Drug,
    DrugReaction,
    LabResult,
    Report,
    write_transaction,
)
from adr.regulator.workbook import parse_month, small_page_cache
from tests import holder_case
from tests.conftest import (
    COMPANY,
    app_config,
    reference_of,
    send_report,
    valid_report,
)
from tests.meddra_fixture import DEMO_CODES, HYPERTENSION, VERSION

CHECKER = Path(__file__).resolve().parents[2] / "shared" / "tools" / "check-contract.py"
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def submit(app, fields=None, received_at: datetime | None = None) -> str:
    reference = reference_of(send_report(app, valid_report() | (fields or {})))
    if received_at:
        redate(app, reference, received_at)
    return reference


def redate(app, reference: str, received_at: datetime) -> None:
    """Move a report as if it had come in then: day 0 moves, and the deadline with it."""
    aware_on = regulatory.china_date(received_at)
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        day_zero = aware_on if report.day_zero else None  # None: the case lacks an element
        death = report.case.death
        due = regulatory.due_at(day_zero, report.report_category, death) if day_zero else None
    change(
        app, reference, received_at=received_at, aware_on=aware_on, day_zero=day_zero, due_at=due
    )


def store_staff_report(app, source: str, received_at: datetime, **fields) -> str:
    """Store a report staff entered (not from the web form) through the app's own path."""
    values = {
        "reporter_kind": "other",
        "reporter_name": "李文",
        "patient_name": "王某",
        "patient_sex": "male",
        "event_name": "肝功能异常",
        "event_outcome": "recovered",
        "event_serious": [],  # column defaults come only at insert; the mails read them before
        "patient_history": [],
    } | fields
    with app.test_request_context():
        report = Report(
            source=source,
            aware_on=regulatory.china_date(received_at),
            drugs=[Drug(position=0, role="suspect", generic_name="阿莫西林胶囊")],
            **values,
        )
        reference = store_report(
            report, secrets.token_urlsafe(24), "zh_CN", "staff@example.com"
        ).reference
    redate(app, reference, received_at)
    return reference


def change(app, reference: str, **values) -> None:
    """Edit a stored report directly, as a later workflow or a hostile database might."""
    with app.app_context():
        db.session.execute(sa.update(Report).where(Report.reference == reference).values(**values))
        db.session.commit()


def change_case(app, reference: str, **values) -> None:
    """Edit the case of a stored report directly, as staff's workflow would."""
    with app.app_context():
        case_id = sa.select(Report.case_id).where(Report.reference == reference).scalar_subquery()
        db.session.execute(sa.update(Case).where(Case.id == case_id).values(**values))
        db.session.commit()


def merge(app, duplicate: str, original: str) -> None:
    """Mark the duplicate's case a duplicate of the original's: its reports join it."""
    with app.app_context(), write_transaction() as session:
        first = sa.select(Report).where(Report.reference == duplicate)
        of = sa.select(Report).where(Report.reference == original)
        merges.merge(session, session.scalar(first).case, session.scalar(of).case, "test")


def case_id_of(app, reference: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Report.case_id).where(Report.reference == reference))


def export(app, month: str, tmp_path: Path, *args: str):
    path = tmp_path / f"{month}.xlsx"
    result = app.test_cli_runner().invoke(args=["export", month, "-o", str(path), *args])
    assert result.exit_code == 0, result.output
    return load_workbook(path), result


def rows(sheet) -> list[dict[str, object]]:
    values = list(sheet.iter_rows(values_only=True))
    return [dict(zip(values[0], row, strict=False)) for row in values[1:]]


def summary_blocks(sheet) -> dict[str, list[tuple[object, object]]]:
    """Return each block of sheet 汇总 by its bold title, with the (item, value) rows under it."""
    blocks: dict[str, list[tuple[object, object]]] = {}
    rows: list[tuple[object, object]] = []
    for row in sheet.iter_rows(max_col=2):
        if row[0].value is None:
            continue
        if row[0].font.bold:
            rows = blocks[row[0].value] = []
        else:
            rows.append((row[0].value, row[1].value))
    return blocks


def counts(sheet, title: str = "本月报告") -> dict[object, object]:
    """Return a count block as {item: count}, without its 项目/数量 header."""
    return dict(summary_blocks(sheet)[title][1:])


def cell(sheet, reference: str, header: str):
    headers = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        if row[0].value == reference:
            return row[headers.index(header)]
    raise KeyError(reference)


NOV = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)


def test_the_workbook_has_the_spec_sheets_and_headers(app, tmp_path):
    submit(app, received_at=NOV)
    workbook, result = export(app, "2026-11", tmp_path)
    assert workbook.sheetnames == ["个例报告", "药品", "汇总", "不予上报", "持有人报告表"]
    reports = workbook["个例报告"]
    headers = [c.value for c in reports[1]]
    assert len(headers) == 44  # the national form's 42, then the coded PT and SOC
    assert headers[42:] == ["MedDRA首选语(PT)", "MedDRA系统器官分类(SOC)"]
    assert headers[:7] == [
        "报告编码",
        "首次/跟踪报告",
        "原始报告编码",
        "报告类型",
        "接收日期",
        "报告时限",
        "是否逾期",
    ]
    assert headers[-7:-2] == [
        "报告单位关联性评价",
        "处理状态",
        "上报日期",
        "国家系统报告编号",
        "备注",
    ]
    assert [c.value for c in workbook["药品"][1]][:3] == ["报告编码", "药品类别", "批准文号"]
    assert reports.freeze_panes == "A2" and workbook["药品"].freeze_panes == "A2"
    assert reports.auto_filter.ref == "A1:AR2"
    assert all(c.font.bold for c in reports[1])
    assert reports.column_dimensions["AA"].width >= 40  # 怀疑药品
    assert "1 reports, 2 drug rows, 0 not reported" in result.output
    not_reported = workbook["不予上报"]
    assert [c.value for c in not_reported[1]] == [
        "报告编码",
        "首次/跟踪报告",
        "接收日期",
        "处理状态",
        "原因",
        "不良反应/事件名称",
    ]
    assert not_reported.freeze_panes == "A2" and all(c.font.bold for c in not_reported[1])


@pytest.mark.skipif(not CHECKER.exists(), reason=f"the shared contract checker is not at {CHECKER}")
def test_the_shared_contract_checker_accepts_the_workbook(app, tmp_path):
    submit(app, received_at=NOV)
    export(app, "2026-11", tmp_path)
    checked = subprocess.run(
        [sys.executable, str(CHECKER), "workbook", str(tmp_path / "2026-11.xlsx")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_report_fills_its_row_with_labels_and_composite_cells(app, tmp_path):
    reference = submit(app, received_at=NOV)
    workbook, _ = export(app, "2026-11", tmp_path)
    [row] = rows(workbook["个例报告"])
    assert row["报告编码"] == reference
    assert row["首次/跟踪报告"] == "首次报告" and row["原始报告编码"] is None
    assert row["报告类型"] == "一般"
    assert row["接收日期"].date() == date(2026, 11, 10)
    assert row["报告时限"].date() == date(2026, 12, 10)
    assert row["报告人职业"] == "药师" and row["信息来源"] == "经营企业"
    assert row["性别"] == "女" and row["年龄"] == "68岁" and row["体重(kg)"] == 62.5
    assert row["既往药品不良反应/事件"] == "有:青霉素皮疹"
    assert row["家族药品不良反应/事件"] == "无"
    assert row["相关重要信息"] == "吸烟史、过敏史:青霉素皮试阳性(2019年)"
    assert row["怀疑药品"] == (
        "阿莫西林胶囊[天宁] 国药准字H61020123 陕西医药控股集团天宁制药有限责任公司 "
        "批号:20260315A 0.5g 口服 每日3次 2026-11-20至2026-11-22 用药原因:急性支气管炎"
    )
    assert row["并用药品"] == "盐酸氨溴索片 30mg 口服 每日2次 2026-11-20至今"
    assert row["结果"] == "好转"
    assert row["停药或减量后反应是否消失或减轻"] == "是"
    assert row["再次使用后是否再次出现"] == "未再使用"
    assert row["对原患疾病的影响"] == "不明显"
    assert row["严重性标准"] is None
    assert row["报告人关联性评价"] == "很可能"
    assert row["处理状态"] == "已接收"
    assert row["报告单位关联性评价"] is None and row["上报日期"] is None
    drugs = rows(workbook["药品"])
    assert [(d["报告编码"], d["药品类别"], d["生产批号"]) for d in drugs] == [
        (reference, "怀疑药品", "20260315A"),
        (reference, "并用药品", None),
    ]
    assert (
        drugs[0]["每次剂量"] == 0.5
        and drugs[0]["剂量单位"] == "g"
        and drugs[0]["给药途径"] == "口服"
    )


def test_dates_are_real_excel_dates(app, tmp_path):
    reference = submit(app, received_at=NOV)
    workbook, _ = export(app, "2026-11", tmp_path)
    for header in ("接收日期", "报告时限", "出生日期", "发生时间"):
        found = cell(workbook["个例报告"], reference, header)
        assert found.is_date and found.number_format == "yyyy-mm-dd", header


def test_serious_and_fatal_outcomes_read_as_the_form_writes_them(app, tmp_path):
    death = submit(
        app,
        {
            "event-outcome": "death",
            "event-death_cause": "过敏性休克",
            "event-death_date": "2026-11-22",
            "event-serious": ["life_threatening"],
        },
        received_at=NOV,
    )
    sequelae = submit(
        app, {"event-outcome": "sequelae", "event-sequelae_detail": "左手麻木"}, received_at=NOV
    )
    workbook, _ = export(app, "2026-11", tmp_path)
    sheet = workbook["个例报告"]
    assert cell(sheet, death, "结果").value == "死亡(直接死因:过敏性休克;死亡时间:2026-11-22)"
    assert cell(sheet, death, "严重性标准").value == "导致死亡、危及生命"
    assert cell(sheet, death, "报告类型").value == "严重"
    assert cell(sheet, sequelae, "结果").value == "有后遗症(表现:左手麻木)"


def test_a_death_staff_confirmed_reads_in_the_outcome_criteria_and_summary(app, tmp_path):
    reference = submit(app, received_at=NOV)  # the reporter wrote 好转
    # Staff's decisions in force for the report (adr.cases.decisions), as derived onto it.
    change(
        app,
        reference,
        serious=True,
        report_category="serious",
        decided_outcome="death",
        decided_serious=["death"],
    )
    workbook, _ = export(app, "2026-11", tmp_path)
    sheet = workbook["个例报告"]
    assert cell(sheet, reference, "结果").value == "好转(审核确认:死亡)"
    assert cell(sheet, reference, "严重性标准").value == "导致死亡"
    assert counts(workbook["汇总"])["死亡"] == 1


def test_age_comes_from_the_birth_date_when_no_age_was_given(app, tmp_path):
    infant = submit(
        app,
        {
            "patient-age": "",
            "patient-birth_date": "2026-03-20",
            "event-onset_date": "2026-11-21",
            "drugs-0-start_date": "2026-11-20",
            "drugs-0-end_date": "",
            "drugs-1-start_date": "",
        },
        received_at=NOV,
    )
    months = submit(
        app,
        {"patient-age": "8", "patient-age_unit": "month", "patient-birth_date": ""},
        received_at=NOV,
    )
    workbook, _ = export(app, "2026-11", tmp_path)
    assert cell(workbook["个例报告"], infant, "年龄").value == "8月"
    assert cell(workbook["个例报告"], months, "年龄").value == "8月"


def test_the_month_is_the_china_month(app, tmp_path):
    november = submit(app, received_at=datetime(2025, 10, 31, 16, 30, tzinfo=UTC))  # 00:30 on 1 Nov
    october = submit(app, received_at=datetime(2025, 10, 31, 15, 59, tzinfo=UTC))  # 23:59 on 31 Oct
    nov, _ = export(app, "2025-11", tmp_path)
    oct_, _ = export(app, "2025-10", tmp_path)
    assert [r["报告编码"] for r in rows(nov["个例报告"])] == [november]
    assert [r["报告编码"] for r in rows(oct_["个例报告"])] == [october]
    assert parse_month("2025-11")[0] == datetime(2025, 10, 31, 16, 0, tzinfo=UTC)


def test_follow_ups_name_their_first_report(app, tmp_path):
    first = submit(app, received_at=NOV)
    follow_up = submit(app, {"follow_up_of": first}, received_at=NOV + timedelta(days=2))
    workbook, _ = export(app, "2026-11", tmp_path)
    sheet = workbook["个例报告"]
    assert cell(sheet, follow_up, "首次/跟踪报告").value == "跟踪报告"
    assert cell(sheet, follow_up, "原始报告编码").value == first
    assert cell(sheet, first, "首次/跟踪报告").value == "首次报告"


HOSTILE = {
    "patient_name": '=HYPERLINK("http://evil.example","点我")',
    "reporter_name": "+1",
    "reporter_phone": "-2+3",
    "patient_disease": "@SUM(A1:A9)",
    "patient_hospital": "\tTAB",
    "patient_ethnicity": "\rCR",
    "remarks": "#N/A",
    "reporter_organization": "#DIV/0!",
}


def test_text_that_looks_like_a_formula_stays_text_exactly_as_typed(app, tmp_path):
    reference = submit(app, received_at=NOV)
    change(app, reference, **HOSTILE)
    with app.app_context():
        drug_id = db.session.scalar(sa.select(Drug.id).where(Drug.batch_number == "20260315A"))
        db.session.execute(
            sa.update(Drug).where(Drug.id == drug_id).values(batch_number="-20260101")
        )
        db.session.commit()
    workbook, _ = export(app, "2026-11", tmp_path)
    sheet = workbook["个例报告"]
    headers = {
        "patient_name": "患者姓名",
        "reporter_name": "报告人姓名",
        "reporter_phone": "报告人联系电话",
        "patient_disease": "原患疾病",
        "patient_hospital": "医院名称",
        "patient_ethnicity": "民族",
        "remarks": "备注",
        "reporter_organization": "报告人单位",
    }
    for column, typed in HOSTILE.items():
        found = cell(sheet, reference, headers[column])
        assert (found.value, found.data_type, found.quotePrefix) == (typed, "s", True), column
    assert cell(sheet, reference, "报告编码").quotePrefix is False  # the rest of the row is plain
    batch = cell(workbook["药品"], reference, "生产批号")
    assert (batch.value, batch.data_type, batch.quotePrefix) == ("-20260101", "s", True)
    assert "批号:-20260101" in cell(sheet, reference, "怀疑药品").value


def test_characters_xml_forbids_are_removed(app, tmp_path):
    reference = submit(app, received_at=NOV)
    change(
        app, reference, event_description="过程\x01描述\x0b\ufffe完\uffff毕\x1f", remarks="=\x02x"
    )
    workbook, _ = export(app, "2026-11", tmp_path)
    sheet = workbook["个例报告"]
    assert cell(sheet, reference, "过程描述及处理情况").value == "过程描述完毕"
    remarks = cell(sheet, reference, "备注")
    assert (remarks.value, remarks.data_type) == ("=x", "s")


def test_an_empty_month_gives_headers_and_a_zero_summary(app, tmp_path):
    workbook, result = export(app, "2030-01", tmp_path)
    assert workbook["个例报告"].max_row == 1 and workbook["药品"].max_row == 1
    assert workbook["不予上报"].max_row == 1
    totals = counts(workbook["汇总"])
    assert totals["报告总数"] == 0 and totals["严重"] == 0 and totals["逾期"] == 0
    assert totals["不予上报"] == 0
    assert dict(summary_blocks(workbook["汇总"])["报告单位"])["报告期间"] == "2030-01"
    assert "0 reports, 0 drug rows, 0 not reported" in result.output


@pytest.mark.parametrize("month", ["2026-13", "26-1", "abc", "2026-1", "2026-00", "2026-11-01"])
def test_a_malformed_month_is_one_line_and_status_2(app, month):
    result = app.test_cli_runner().invoke(args=["export", month])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "YYYY-MM" in result.output
    assert "Traceback" not in result.output


def test_without_o_the_workbook_goes_to_instance_exports(app):
    result = app.test_cli_runner().invoke(args=["export", "2026-11"])
    path = Path(app.instance_path) / "exports" / "ADR-2026-11.xlsx"
    assert result.exit_code == 0 and str(path) in result.output and path.exists()


def test_overdue_means_late_to_the_regulator_or_not_sent_and_past_due(app, tmp_path):
    late = submit(app, received_at=NOV)
    change(app, late, due_at=NOV + timedelta(days=1), submitted_to_regulator_on=date(2026, 11, 20))
    change_case(app, late, status="submitted", national_case_number="2026610000000001")
    on_time = submit(app, received_at=NOV)
    change(
        app, on_time, due_at=NOV + timedelta(days=30), submitted_to_regulator_on=date(2026, 11, 12)
    )
    change_case(app, on_time, status="submitted", company_causality="possible")
    waiting = submit(app, received_at=NOV)
    change(app, waiting, due_at=NOV + timedelta(days=1))
    closed = submit(app, received_at=NOV)  # closed with no date sent: no record it was reported
    change(app, closed, due_at=NOV + timedelta(days=1))
    change_case(app, closed, status="closed")
    workbook, _ = export(app, "2026-11", tmp_path)
    sheet = workbook["个例报告"]
    assert cell(sheet, late, "是否逾期").value == "是"
    assert cell(sheet, late, "处理状态").value == "已上报"
    assert cell(sheet, late, "国家系统报告编号").value == "2026610000000001"
    assert cell(sheet, on_time, "是否逾期").value == "否"
    assert cell(sheet, on_time, "上报日期").value.date() == date(2026, 11, 12)
    assert cell(sheet, on_time, "报告单位关联性评价").value == "可能"
    assert cell(sheet, waiting, "是否逾期").value == "是"
    assert cell(sheet, closed, "是否逾期").value == "是"
    assert counts(workbook["汇总"])["逾期"] == 3


def test_the_summary_counts_the_month(app, tmp_path):
    first = submit(app, received_at=NOV)
    submit(app, {"follow_up_of": first, "event-serious": ["hospitalization"]}, received_at=NOV)
    submit(
        app,
        {
            "event-outcome": "death",
            "event-death_cause": "休克",
            "event-death_date": "2026-11-22",
            "drugs-0-batch_number": "B2",
            "drugs-0-generic_name": "头孢克肟片",
        },
        received_at=NOV,
    )
    workbook, _ = export(app, "2026-11", tmp_path)
    blocks = summary_blocks(workbook["汇总"])
    assert list(blocks) == [
        "报告单位",
        "本月报告",
        "按结果",
        "按产品(怀疑药品)",
        "按产品和批号(怀疑药品)",
    ]
    totals = counts(workbook["汇总"])
    assert totals["报告总数"] == 3 and totals["严重"] == 2 and totals["死亡"] == 1
    assert totals["跟踪报告"] == 1 and totals["新的"] == 0 and totals["不予上报"] == 0
    outcomes = counts(workbook["汇总"], "按结果")
    assert outcomes["好转"] == 2 and outcomes["死亡"] == 1
    assert blocks["按产品(怀疑药品)"] == [
        ("项目", "数量"),
        ("阿莫西林胶囊", 2),
        ("头孢克肟片", 1),
    ]
    assert blocks["按产品和批号(怀疑药品)"] == [
        ("项目", "数量"),
        ("阿莫西林胶囊 20260315A", 2),
        ("头孢克肟片 B2", 1),
    ]


def test_english_sheets_headers_and_labels(app, tmp_path):
    submit(app, received_at=NOV)
    workbook, _ = export(app, "2026-11", tmp_path, "--lang", "en")
    assert workbook.sheetnames == ["Reports", "Drugs", "Summary", "Not reported", "Holder form"]
    [row] = rows(workbook["Reports"])
    assert row["Reporter's occupation"] == "Pharmacist"
    assert row["Outcome"] == vocab.OUTCOME["improving"].en
    assert (
        "batch: 20260315A" in row["Suspected drugs"]
        and "2026-11-20 to 2026-11-22" in row["Suspected drugs"]
    )


@pytest.mark.skipif(
    not SOFFICE, reason="LibreOffice (Debian's libreoffice-calc-nogui) is not installed"
)
def test_libreoffice_opens_the_workbook_and_reads_the_text_as_typed(app, tmp_path):
    reference = submit(app, received_at=NOV)
    holder_case.complete(app, reference)
    change(app, reference, **HOSTILE)
    export(app, "2026-11", tmp_path)
    converted = subprocess.run(
        [
            SOFFICE,
            "--headless",
            f"-env:UserInstallation=file://{tmp_path}/lo",
            "--convert-to",  # every sheet (-1), each as shown
            "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1",
            "--outdir",
            str(tmp_path / "csv"),
            str(tmp_path / "2026-11.xlsx"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert converted.returncode == 0, converted.stderr

    def table(sheet: str) -> tuple[list[str], list[str]]:
        with (tmp_path / "csv" / f"2026-11-{sheet}.csv").open(encoding="utf-8") as handle:
            header, row, *_ = csv.reader(handle)
        return header, row

    header, row = table("个例报告")
    assert header[0] == "报告编码" and row[0] == reference
    assert row[header.index("患者姓名")] == HOSTILE["patient_name"]
    assert row[header.index("备注")] == "#N/A"
    assert row[header.index("报告人联系电话")] == "-2+3"
    assert row[header.index("报告人职业")] == "药师"
    assert row[header.index("接收日期")] == "2026-11-10"
    header, row = table("持有人报告表")
    assert row[0] == reference and row[header.index("患者姓名")] == HOSTILE["patient_name"]
    assert row[header.index("报告人单位")] == "#DIV/0!"
    assert row[header.index("失效日期/有效期至")] == "2028-03-31"
    assert row[header.index("发生地区(市)")] == "榆林市"


# Reports of invalid and duplicate cases.


def test_invalid_and_duplicate_reports_go_to_not_reported_only(app, tmp_path):
    original = submit(app, received_at=NOV)
    later = submit(app, {"follow_up_of": original}, received_at=NOV + timedelta(days=1))
    duplicate = submit(app, received_at=NOV + timedelta(days=2))
    invalid = submit(app, received_at=NOV + timedelta(days=3))
    invalid_follow_up = submit(app, {"follow_up_of": invalid}, received_at=NOV + timedelta(days=4))
    merge(app, duplicate, original)  # the same report again: a copy, owing nothing
    change_case(app, invalid, status="invalid", status_reason="=患者信息无法核实")
    for reference in (duplicate, invalid, invalid_follow_up):  # past due and unsent
        change(app, reference, due_at=NOV)
    for reference in (original, later):  # sent in time: never overdue, whenever the test runs
        change(app, reference, submitted_to_regulator_on=date(2026, 11, 12))
    workbook, result = export(app, "2026-11", tmp_path)

    assert [r["报告编码"] for r in rows(workbook["个例报告"])] == [original, later]
    assert {d["报告编码"] for d in rows(workbook["药品"])} == {original, later}
    sheet = workbook["不予上报"]
    assert [tuple(r.values()) for r in rows(sheet)] == [
        (duplicate, "跟踪报告", datetime(2026, 11, 12), "重复", f"重复:{original}", "皮疹、瘙痒"),
        (invalid, "首次报告", datetime(2026, 11, 13), "无效", "=患者信息无法核实", "皮疹、瘙痒"),
        (
            invalid_follow_up,
            "跟踪报告",
            datetime(2026, 11, 14),
            "无效",
            "=患者信息无法核实",
            "皮疹、瘙痒",
        ),
    ]
    reason = cell(sheet, invalid, "原因")
    assert (reason.data_type, reason.quotePrefix) == ("s", True)  # typed text stays text
    assert cell(sheet, duplicate, "接收日期").number_format == "yyyy-mm-dd"
    assert sheet.auto_filter.ref == "A1:F4"
    totals = counts(workbook["汇总"])
    assert totals["报告总数"] == 2 and totals["跟踪报告"] == 1 and totals["逾期"] == 0
    assert totals["不予上报"] == 3
    assert counts(workbook["汇总"], "按产品(怀疑药品)") == {"阿莫西林胶囊": 2}
    assert "2 reports, 4 drug rows, 3 not reported" in result.output


def test_not_reported_in_english(app, tmp_path):
    original = submit(app, received_at=NOV)
    duplicate = submit(app, received_at=NOV)
    merge(app, duplicate, original)
    workbook, _ = export(app, "2026-11", tmp_path, "--lang", "en")
    [row] = rows(workbook["Not reported"])
    assert row["Status"] == "Duplicate" and row["Reason"] == f"Duplicate: {original}"
    assert counts(workbook["Summary"], "Reports this month")["Not reported"] == 1


# The summary.


def test_the_summary_opens_with_the_reporting_organisation(app, tmp_path):
    app.config["COMPANY_CONTACT"] = "李明"
    workbook, _ = export(app, "2026-11", tmp_path)
    unit = summary_blocks(workbook["汇总"])["报告单位"]
    assert unit == [
        ("单位名称", COMPANY),
        ("报告单位类别", "生产企业"),
        ("联系人", "李明"),
        ("联系电话", "400-840-1008、0912-5647197"),
        ("电子邮箱", "tn@tianning.com.cn"),
        ("报告期间", "2026-11"),
    ]
    first = next(workbook["汇总"].iter_rows(max_row=1))
    assert first[0].value == "报告单位" and first[0].font.bold

    english, _ = export(app, "2026-11", tmp_path, "--lang", "en")
    unit = dict(summary_blocks(english["Summary"])["Reporting organisation"])
    assert unit["Name"] == app.config["COMPANY_NAME_EN"]
    assert unit["Type of organisation"] == "Manufacturer" and unit["Contact person"] == "李明"


def test_the_contact_is_empty_unless_set_and_comes_from_the_environment(app, tmp_path, monkeypatch):
    workbook, _ = export(app, "2026-11", tmp_path)
    assert dict(summary_blocks(workbook["汇总"])["报告单位"])["联系人"] is None
    monkeypatch.setenv("ADR_COMPANY_CONTACT", "药物警戒部 李明")
    assert create_app(app_config(tmp_path)).config["COMPANY_CONTACT"] == "药物警戒部 李明"


def test_batches_are_counted_by_product_and_batch(app, tmp_path):
    submit(app, received_at=NOV)
    submit(app, received_at=NOV)
    submit(
        app,
        {
            "drugs-0-generic_name": "头孢克肟片",
            "drugs-0-brand_name": "",
            "drugs-0-batch_number": "20260315A",
        },
        received_at=NOV,
    )
    workbook, _ = export(app, "2026-11", tmp_path)
    assert summary_blocks(workbook["汇总"])["按产品和批号(怀疑药品)"][1:] == [
        ("阿莫西林胶囊 20260315A", 2),
        ("头孢克肟片 20260315A", 1),
    ]


# Cells.


def test_information_source_follows_the_source_then_the_workplace(app, tmp_path):
    literature = store_staff_report(app, "literature", NOV, reporter_organization_type="hospital")
    phoned = store_staff_report(app, "phone", NOV)
    hospital = submit(
        app,
        {"reporter-kind": "physician", "reporter-organization_type": "hospital"},
        received_at=NOV,
    )
    pharmacy = submit(app, received_at=NOV)
    workbook, _ = export(app, "2026-11", tmp_path)
    sheet = workbook["个例报告"]
    assert cell(sheet, literature, "信息来源").value == "文献报道"
    assert cell(sheet, phoned, "信息来源").value == "个人"
    assert cell(sheet, hospital, "信息来源").value == "医疗机构"
    assert cell(sheet, hospital, "报告人职业").value == "医生"
    assert cell(sheet, pharmacy, "信息来源").value == "经营企业"


def test_english_composite_cells_read_as_english(app, tmp_path):
    reference = submit(
        app,
        {
            "patient-age": "33",
            "patient-birth_date": "",
            "drugs-0-dose": "1",
            "drugs-0-dose_unit": "tablet",
            "event-outcome": "sequelae",
            "event-sequelae_detail": "左手麻木",
        },
        received_at=NOV,
    )
    infant = submit(
        app,
        {"patient-age": "8", "patient-age_unit": "month", "patient-birth_date": ""},
        received_at=NOV,
    )
    english, _ = export(app, "2026-11", tmp_path, "--lang", "en")
    sheet = english["Reports"]
    assert cell(sheet, reference, "Age").value == "33 years"
    assert cell(sheet, infant, "Age").value == "8 months"
    assert cell(sheet, reference, "Suspected drugs").value == (
        "阿莫西林胶囊[天宁] 国药准字H61020123 陕西医药控股集团天宁制药有限责任公司 "
        "batch: 20260315A 1 tablet(s) By mouth 每日3次 2026-11-20 to 2026-11-22 "
        "reason: 急性支气管炎"
    )
    assert cell(sheet, reference, "Other drugs").value.startswith("盐酸氨溴索片 30 mg By mouth")
    assert cell(sheet, reference, "Outcome").value == (
        "Recovered with lasting effects (effects: 左手麻木)"
    )
    assert cell(sheet, reference, "Earlier drug reactions").value == "Yes: 青霉素皮疹"
    chinese, _ = export(app, "2026-11", tmp_path)
    assert cell(chinese["个例报告"], reference, "年龄").value == "33岁"
    assert "批号:20260315A 1片 口服" in cell(chinese["个例报告"], reference, "怀疑药品").value
    assert cell(chinese["个例报告"], infant, "年龄").value == "8月"


def test_a_death_in_english(app, tmp_path):
    death = submit(
        app,
        {
            "event-outcome": "death",
            "event-death_cause": "过敏性休克",
            "event-death_date": "2026-11-22",
        },
        received_at=NOV,
    )
    english, _ = export(app, "2026-11", tmp_path, "--lang", "en")
    assert cell(english["Reports"], death, "Outcome").value == (
        "Death (cause: 过敏性休克; died: 2026-11-22)"
    )


def test_a_case_without_a_deadline_has_an_empty_due_date_and_is_not_overdue(app, tmp_path):
    # A call about a patient nobody can identify: no minimum elements, no day 0 yet.
    reference = store_staff_report(app, "phone", NOV, patient_name="不详", patient_sex=None)
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        assert report.due_at is None and report.day_zero is None and not report.valid_case
    change(app, reference, submitted_to_regulator_on=date(2026, 11, 20))  # sent nonetheless
    workbook, _ = export(app, "2026-11", tmp_path)
    sheet = workbook["个例报告"]
    assert cell(sheet, reference, "报告时限").value is None
    assert cell(sheet, reference, "是否逾期").value == "否"
    assert counts(workbook["汇总"])["逾期"] == 0


def test_reference_columns_fit_a_reference(app, tmp_path):
    first = submit(app, received_at=NOV)
    submit(app, {"follow_up_of": first}, received_at=NOV)
    workbook, _ = export(app, "2026-11", tmp_path)
    assert len("ADR-202611-7K3QD9") == 17
    for sheet, column in [
        ("个例报告", "A"),  # 报告编码
        ("个例报告", "C"),  # 原始报告编码
        ("个例报告", "AO"),  # 国家系统报告编号
        ("药品", "A"),
        ("不予上报", "A"),
    ]:
        assert workbook[sheet].column_dimensions[column].width >= 20, (sheet, column)
    assert workbook["不予上报"].column_dimensions["E"].width >= 40  # 原因


# Sheet 持有人报告表: the holder's form, a row per reaction and suspect drug of each report.

HOLDER_HEADERS = [
    "报告编码",
    "严重报告",
    "境外报告",
    "首次/跟踪报告",
    "病例编号",
    "报告来源",
    "患者姓名",
    "性别",
    "出生日期",
    "年龄",
    "国籍",
    "民族/种族",
    "身高(cm)",
    "体重(kg)",
    "患者联系电话",
    "是否妊娠",
    "相关疾病信息",
    "批准文号",
    "商品名",
    "通用名称",
    "剂型",
    "规格",
    "上市许可持有人/生产企业",
    "产品批号",
    "失效日期/有效期至",
    "用法用量",
    "用药起止日期",
    "用药时间",
    "用药原因",
    "采取的措施",
    "不良反应名称",
    "MedDRA低位语(LLT)",
    "MedDRA首选语(PT)",
    "发生日期",
    "结束日期",
    "是否严重",
    "严重性标准",
    "结果",
    "报告人关联性评价",
    "持有人关联性评价",
    "发生地区(省)",
    "发生地区(市)",
    "相关实验室检查信息",
    "报告人姓名",
    "报告人身份",
    "报告人联系电话",
    "报告人电子邮箱",
    "报告人单位",
    "首次获知日期",
]


def holder_cells(sheet, reference: str) -> list[dict[str, object]]:
    """Return the cells of a report's rows on sheet 持有人报告表, by header."""
    headers = [c.value for c in sheet[1]]
    return [
        dict(zip(headers, row, strict=True))
        for row in sheet.iter_rows(min_row=2)
        if row[0].value == reference
    ]


def test_the_holder_sheet_has_a_row_per_reaction_in_the_forms_columns(app, tmp_path):
    reference = submit(app, received_at=NOV)
    holder_case.import_meddra(app, tmp_path)
    holder_case.complete(app, reference)
    workbook, result = export(app, "2026-11", tmp_path)
    sheet = workbook["持有人报告表"]
    assert [c.value for c in sheet[1]] == HOLDER_HEADERS
    assert sheet.freeze_panes == "A2" and all(c.font.bold for c in sheet[1])
    assert sheet.auto_filter.ref == "A1:AW3"
    widths = {c.value: sheet.column_dimensions[c.column_letter].width for c in sheet[1]}
    assert widths["相关疾病信息"] >= 40 and widths["相关实验室检查信息"] >= 40
    assert widths["病例编号"] >= 20 and widths["上市许可持有人/生产企业"] >= 24
    assert "1 reports, 2 drug rows, 0 not reported, 2 holder form rows" in result.output
    rash, itch = holder_cells(sheet, reference)
    values = {header: cell.value for header, cell in rash.items()}
    assert values | {"出生日期": None, "失效日期/有效期至": None, "发生日期": None} == {
        "报告编码": reference,
        "严重报告": "否",
        "境外报告": "否",
        "首次/跟踪报告": "首次报告",
        "病例编号": reference,
        "报告来源": "经营企业",
        "患者姓名": "张某某",
        "性别": "女",
        "出生日期": None,
        "年龄": "68岁",
        "国籍": "中国",
        "民族/种族": "汉族",
        "身高(cm)": 158.5,
        "体重(kg)": 62.5,
        "患者联系电话": "0912-5647197",
        "是否妊娠": None,
        "相关疾病信息": "急性支气管炎\n高血压 开始日期:2015-06-01 仍存在:是",
        "批准文号": "国药准字H61020123",
        "商品名": "天宁",
        "通用名称": "阿莫西林胶囊",
        "剂型": "胶囊",
        "规格": "0.25g",
        "上市许可持有人/生产企业": COMPANY,
        "产品批号": "20260315A",
        "失效日期/有效期至": None,
        "用法用量": "0.5g 口服 每日3次",
        "用药起止日期": "2026-11-20至2026-11-22",
        "用药时间": "3天",
        "用药原因": "急性支气管炎",
        "采取的措施": "停药",
        "不良反应名称": "皮疹",
        "MedDRA低位语(LLT)": "83000001 皮疹 (27.1)",
        "MedDRA首选语(PT)": "83000001 皮疹",
        "发生日期": None,
        "结束日期": datetime(2026, 11, 25),
        "是否严重": "否",
        "严重性标准": None,
        "结果": "好转",
        "报告人关联性评价": "很可能",
        "持有人关联性评价": "肯定",
        "发生地区(省)": "陕西省",
        "发生地区(市)": "榆林市",
        "相关实验室检查信息": (
            "谷丙转氨酶 2026-11-21 88 U/L 正常值范围:0–40\n嗜酸性粒细胞计数 2026-11-22 升高"
        ),
        "报告人姓名": "王丽",
        "报告人身份": "药师",
        "报告人联系电话": "139 1234 5678",
        "报告人电子邮箱": "wangli@example.com",
        "报告人单位": "榆林市天宁大药房",
        "首次获知日期": datetime(2026, 11, 10),
    }
    for header, day in [
        ("出生日期", date(1958, 3, 14)),
        ("失效日期/有效期至", holder_case.EXPIRY),
        ("发生日期", date(2026, 11, 21)),
    ]:
        found = rash[header]
        assert found.is_date and found.number_format == "yyyy-mm-dd", header
        assert found.value.date() == day, header
    assert itch["不良反应名称"].value == "瘙痒"
    assert itch["MedDRA首选语(PT)"].value == "83000002 瘙痒"
    assert itch["持有人关联性评价"].value is None and itch["结束日期"].value is None
    assert itch["失效日期/有效期至"].value.date() == holder_case.EXPIRY
    # The 2011 form's sheet is as it was: one row, its 42 columns, then the coded PT and SOC.
    assert [r["报告编码"] for r in rows(workbook["个例报告"])] == [reference]
    assert len([c.value for c in workbook["个例报告"][1]]) == 44


def test_the_holder_sheet_rows_follow_the_reactions_and_suspects_a_report_had(app, tmp_path):
    first = submit(app, {"event-name": "皮疹", "drugs-1-role": "suspect"}, received_at=NOV)
    later = submit(
        app,
        {"follow_up_of": first, "event-name": "头痛", "drugs-1-role": "suspect"},
        received_at=NOV + timedelta(days=1),
    )
    change_case(app, first, occurrence_country="JP", assessed_serious=["hospitalization"])
    unnamed = store_staff_report(app, "phone", NOV, event_name="不详")
    workbook, result = export(app, "2026-11", tmp_path)
    sheet = workbook["持有人报告表"]
    pairs = lambda reference: [  # noqa: E731
        (row["不良反应名称"].value, row["通用名称"].value) for row in holder_cells(sheet, reference)
    ]
    assert pairs(first) == [("皮疹", "阿莫西林胶囊"), ("皮疹", "盐酸氨溴索片")]
    assert pairs(later) == [
        ("皮疹", "阿莫西林胶囊"),
        ("皮疹", "盐酸氨溴索片"),
        ("头痛", "阿莫西林胶囊"),
        ("头痛", "盐酸氨溴索片"),
    ]
    assert pairs(unnamed) == [(None, "阿莫西林胶囊")]  # no reaction named: still a row
    row = holder_cells(sheet, later)[0]
    assert row["首次/跟踪报告"].value == "跟踪报告" and row["病例编号"].value == first
    assert row["境外报告"].value == "是" and row["严重报告"].value == "是"
    assert row["严重性标准"].value == "导致住院或住院时间延长" and row["是否严重"].value == "是"
    assert "7 holder form rows" in result.output


def test_typed_text_stays_text_on_the_holder_sheet(app, tmp_path):
    reference = submit(app, received_at=NOV)
    holder_case.complete(app, reference)
    change(app, reference, **HOSTILE, event_province="=省", event_city="-市\x01")
    with app.app_context(), write_transaction() as session:
        lab = session.scalar(sa.select(LabResult).where(LabResult.test_name == "谷丙转氨酶"))
        lab.test_name = "@SUM(A1)"
        disease = session.scalar(sa.select(CaseDisease).where(CaseDisease.position == 1))
        disease.name = "@SUM(A1:A9)"
    workbook, _ = export(app, "2026-11", tmp_path)
    cells = holder_cells(workbook["持有人报告表"], reference)[0]
    for header, typed in [
        ("患者姓名", HOSTILE["patient_name"]),
        ("报告人姓名", "+1"),
        ("报告人联系电话", "-2+3"),
        ("民族/种族", "\rCR"),
        ("报告人单位", "#DIV/0!"),
        ("发生地区(省)", "=省"),
        ("发生地区(市)", "-市"),
    ]:
        found = cells[header]
        assert (found.value, found.data_type, found.quotePrefix) == (typed, "s", True), header
    assert cells["相关疾病信息"].value.startswith("@SUM(A1:A9)\n高血压")
    assert cells["相关疾病信息"].quotePrefix
    assert "@SUM(A1) 2026-11-21" in cells["相关实验室检查信息"].value


def test_the_holder_sheet_in_english(app, tmp_path):
    reference = submit(app, received_at=NOV)
    holder_case.complete(app, reference)
    english, _ = export(app, "2026-11", tmp_path, "--lang", "en")
    sheet = english["Holder form"]
    headers = [c.value for c in sheet[1]]
    assert headers[:6] == [
        "Reference",
        "Serious report",
        "Overseas report",
        "Initial or follow-up",
        "Case number",
        "Source of the report",
    ]
    row = holder_cells(sheet, reference)[0]
    assert row["Serious report"].value == "No" and row["Source of the report"].value == (
        "Distributor or pharmacy"
    )
    assert row["Nationality"].value == "China" and row["Total duration"].value == "3 days"
    assert row["Action taken with the drug"].value == "Drug withdrawn"
    assert "normal range: 0–40" in row["Laboratory tests"].value


# Demo data.


def test_demo_data_fills_a_month_with_every_code_in_use(app, tmp_path):
    result = app.test_cli_runner().invoke(
        args=["demo-data", "--reports", "3000", "--month", "2026-09", "--seed", "1"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        reports = db.session.scalars(sa.select(Report)).all()
        assert len(reports) == 3000
        for attribute, codes in [
            ("reporter_kind", vocab.REPORTER_KIND),
            ("patient_sex", vocab.SEX),
            ("event_outcome", vocab.OUTCOME),
            ("event_dechallenge", vocab.DECHALLENGE),
            ("event_rechallenge", vocab.RECHALLENGE),
            ("event_disease_impact", vocab.DISEASE_IMPACT),
            ("event_causality", vocab.CAUSALITY),
            ("patient_age_unit", vocab.AGE_UNIT),
            ("patient_past_adr", vocab.YES_NO_UNKNOWN),
        ]:
            assert {getattr(r, attribute) for r in reports} >= set(codes), attribute
        assert {c for r in reports for c in r.event_serious} == set(vocab.SERIOUSNESS)
        assert {c for r in reports for c in r.patient_history} == set(vocab.HISTORY)
        drugs = [d for r in reports for d in r.drugs]
        assert {d.role for d in drugs} == set(vocab.DRUG_ROLE)
        assert {d.route for d in drugs} == set(vocab.ROUTE) and {d.dose_unit for d in drugs} == set(
            vocab.DOSE_UNIT
        )
        assert any(r.follow_up_of_id for r in reports) and any(
            r.event_outcome == "death" for r in reports
        )
        assert any((r.patient_name or "").startswith("=") for r in reports)
        assert all(r.reference.startswith("ADR-202609-") for r in reports)
        assert all(r.valid_case for r in reports)
        # Every status a case holding reports can have: a duplicate's reports join its original.
        assert {r.case.status for r in reports} == set(vocab.STATUS) - {"duplicate"}
        assert {r.case.invalid_reason for r in reports if r.case.status == "invalid"} <= set(
            vocab.INVALID_REASON
        )
        not_for_regulator = sum(r.case.status in regulatory.NOT_FOR_REGULATOR for r in reports)
    workbook, result = export(app, "2026-09", tmp_path)
    assert workbook["个例报告"].max_row == 3001 - not_for_regulator
    assert workbook["不予上报"].max_row == 1 + not_for_regulator
    assert f"{not_for_regulator} not reported" in result.output


def test_demo_data_refuses_a_database_with_real_reports_unless_forced(app, sender):
    reference_of(sender.send(valid_report()))
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["demo-data", "--reports", "5"])
    assert refused.exit_code == 1 and "real reports" in refused.output
    assert runner.invoke(args=["demo-data", "--reports", "5", "--force"]).exit_code == 0


# The whole workbook, cell by cell (tests/snapshots/workbook-2025-06.jsonl): a month of demo
# reports whose cases hold every item of the holder's form, in both languages. Written once by the
# code before the holder sheet was made faster, so that no change to any cell goes unseen. After a
# change meant to alter cells, write it again (ADR_WRITE_SNAPSHOT=1) and read its diff.
SNAPSHOT = Path(__file__).parent / "snapshots" / "workbook-2025-06.jsonl"
REFERENCE = re.compile(r"ADR-\d{6}-[0-9A-Z]{6}")  # drawn at random: numbered in order of use


def complete_every_other_case(app) -> None:
    """Give every other case of the month the holder's items, each case a different share of
    them, and put text a spreadsheet could misread into each part of a holder row."""
    with app.app_context(), write_transaction() as session:
        cases = session.scalars(sa.select(Case).order_by(Case.id)).all()
        for number, case in enumerate(cases[::2]):
            report = min(case.reports, key=lambda r: r.id)
            case.patient_nationality = "CN" if number % 2 else "JP"
            case.patient_height_cm = 158.5 if number % 2 else None
            case.occurrence_country = "JP" if number % 3 == 1 else None
            case.assessed_serious = ["hospitalization"] if number % 4 == 1 else None
            session.add(
                CaseDisease(
                    case_id=case.id,
                    position=0 if number == 3 else 9,  # the first line of the cell
                    name="@SUM(A1)" if number == 3 else "高血压",
                    meddra_version=VERSION,
                    llt_code=HYPERTENSION,
                    start_date=date(2015, 6, 1),
                    end_date=date(2020, 1, 1) if number % 2 else None,
                    continuing=["yes", "no", "unknown", None][number % 4],
                    note="注\x01" if number == 5 else None,
                )
            )
            for position, values in enumerate(holder_case.LABS[: number % 3], 1):
                session.add(LabResult(case_id=case.id, position=position, **values))
            suspect = next(d for d in report.drugs if d.role == "suspect")
            session.add(
                CaseDrug(
                    case_id=case.id,
                    drug_key=reactions.drug_key(suspect),
                    dosage_form="胶囊",
                    strength="0.25g" if number % 2 else None,
                    expiry_date=holder_case.EXPIRY,
                    duration_value=(number % 3) or None,
                    duration_unit="d" if number % 3 else None,
                    action_taken=list(vocab.ACTION_TAKEN)[number % len(vocab.ACTION_TAKEN)],
                )
            )
            for index, reaction in enumerate(case.reactions):
                code = DEMO_CODES.get(reaction.reported_term)
                if code and number % 3:
                    reaction.meddra_version, reaction.llt_code = VERSION, code
                if index == 0 and number % 2:
                    reaction.end_date, reaction.outcome = date(2025, 6, 28), "recovered"
                    reaction.serious = ["disability"] if number % 4 == 1 else []
                if index == 1 and number == 4:
                    reaction.excluded_reason = "重复"
                reaction.assessments.append(
                    DrugReaction(
                        drug_key=reactions.drug_key(suspect),
                        company_causality=["certain", None, "possible"][number % 3],
                    )
                )
            if number == 2:
                report.event_province, report.event_city = "=省", "-市\x02"
            if number == 4:
                suspect.manufacturer = "+制药厂"
            if number == 8:
                case.reactions[0].reported_term = "=皮疹"
            if number == 6:
                case.status, case.invalid_reason = "invalid", "not_human"


def snapshot_lines(workbook, language: str) -> list[str]:
    """Return every sheet of a workbook as JSON lines: its layout, then each row's cells."""
    references: dict[str, str] = {}

    def numbered(text: str) -> str:
        return REFERENCE.sub(lambda m: references.setdefault(m[0], f"R{len(references) + 1}"), text)

    def value(cell):
        if isinstance(cell.value, datetime):
            return ["date", cell.value.isoformat(), cell.number_format]
        if isinstance(cell.value, str):
            text = numbered(cell.value)
            return ["text", text] if cell.quotePrefix else text
        return cell.value

    lines = []
    for sheet in workbook:
        layout = {
            "freeze_panes": sheet.freeze_panes,
            "auto_filter": sheet.auto_filter.ref,
            "widths": {letter: d.width for letter, d in sorted(sheet.column_dimensions.items())},
            "bold": [c.coordinate for row in sheet.iter_rows() for c in row if c.font.bold],
        }
        lines.append([language, sheet.title, 0, layout])
        for number, row in enumerate(sheet.iter_rows(), 1):
            lines.append([language, sheet.title, number, [value(cell) for cell in row]])
    return [json.dumps(line, ensure_ascii=False) for line in lines]


def test_the_whole_workbook_is_cell_for_cell_its_snapshot(app, tmp_path):
    result = app.test_cli_runner().invoke(
        args=["demo-data", "--reports", "40", "--month", "2025-06", "--seed", "5"]
    )
    assert result.exit_code == 0, result.output
    holder_case.import_meddra(app, tmp_path)
    complete_every_other_case(app)
    found = []
    for language in ("zh", "en"):
        workbook, result = export(app, "2025-06", tmp_path, "--lang", language)
        assert "not reported" in result.output
        found += snapshot_lines(workbook, language)
    if os.environ.get("ADR_WRITE_SNAPSHOT"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text("\n".join(found) + "\n", encoding="utf8")
    expected = SNAPSHOT.read_text(encoding="utf8").splitlines()
    changed = [(e, f) for e, f in zip_longest(expected, found) if e != f]
    assert not changed, (
        f"{len(changed)} lines differ, the first:\n-{changed[0][0]}\n+{changed[0][1]}"
    )


@pytest.mark.sqlite_only
def test_the_month_is_read_with_a_small_page_cache_then_the_app_s_is_put_back(app):
    def cache_size():
        return db.session.execute(sa.text("PRAGMA cache_size")).scalar()

    with app.app_context():
        with small_page_cache():
            during = cache_size()
        assert (during, cache_size()) == (-2000, -32768)
