"""The periodic line listing of a product's cases, read back with openpyxl."""

from __future__ import annotations

import io
import os
from datetime import date, timedelta
from itertools import zip_longest
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from adr import accounts, regulatory
from adr.extensions import db
from adr.models import AuditEntry, Case, Drug, Product, Report, write_transaction
from adr.regulator.listing import COLUMNS
from tests import holder_case
from tests.conftest import (
    COMPANY,
    hidden_inputs,
    reference_of,
    send_report,
    valid_report,
)
from tests.test_cases import enter, entered
from tests.test_export import change, change_case, complete_every_other_case, merge, snapshot_lines

PASSWORD = "correct horse battery"
REVIEWER = "reviewer@tianning.example"
TODAY = regulatory.china_today()
PERIOD = ("--from", str(TODAY - timedelta(days=10)), "--to", str(TODAY))
FORMULA = "=SUM(A1:A9)*2"


@pytest.fixture
def staff(app):
    with app.app_context():
        accounts.create_user(REVIEWER, "审核员", "reviewer", PASSWORD, "test")
        db.session.add(
            Product(
                generic_name="阿莫西林胶囊",
                brand_name="天宁",
                approval_number="国药准字H61020123",
                manufacturer=COMPANY,
                listed_reactions=["皮疹"],
            )
        )
        db.session.commit()
    client = app.test_client()
    token = hidden_inputs(client.get("/login").get_data(as_text=True))["csrf_token"]
    client.post("/login", data={"email": REVIEWER, "password": PASSWORD, "csrf_token": token})
    return client


def submit(app, **fields) -> str:
    return reference_of(send_report(app, valid_report() | fields))


def assess(client, reference: str, **fields):
    page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    data = {"csrf_token": hidden_inputs(page)["csrf_token"], **fields}
    response = client.post(f"/staff/reports/{reference}/assessment", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]


@pytest.fixture
def cases(app, staff):
    """Cases of the product in the period, and some that are not to be listed."""
    rash = submit(app)
    serious = submit(
        app,
        **{
            "event-name": "过敏性休克；呼吸困难",
            "event-serious": ["hospitalization", "life_threatening"],
            "event-outcome": "recovered",
            "drugs-0-batch_number": "20260401B",
        },
    )
    formula = submit(app, **{"event-name": f"{FORMULA}、皮疹", "drugs-0-batch_number": "20260402"})
    other_product = submit(
        app,
        **{
            "drugs-0-generic_name": "布洛芬片",
            "drugs-0-approval_number": "",
            "drugs-0-brand_name": "",
            "drugs-0-manufacturer": "华北制药",
        },
    )
    duplicate = submit(app, **{"patient-name": "张某"})
    assess(staff, duplicate, status="duplicate", duplicate_of=rash)
    follow_up = entered(
        enter(
            staff,
            {
                "case-source": "phone",
                "case-awareness_date": TODAY.isoformat(),
                "event-name": "皮疹、瘙痒",
                "event-outcome": "recovered",
            },
            rash,
        )
    )
    assess(staff, serious, status="in_review", company_causality="possible", expectedness="new")
    long_ago = entered(
        enter(
            staff,
            {
                "case-source": "phone",
                "case-awareness_date": (TODAY - timedelta(days=40)).isoformat(),
                "reporter-kind": "patient",
                "reporter-name": "李四",
                "patient-name": "李四",
                "patient-sex": "male",
                "drugs-0-role": "suspect",
                "drugs-0-generic_name": "阿莫西林胶囊",
                "event-name": "腹泻",
                "event-onset_date": (TODAY - timedelta(days=42)).isoformat(),
            },
        )
    )
    return {
        "rash": rash,
        "serious": serious,
        "formula": formula,
        "other product": other_product,
        "duplicate": duplicate,
        "follow-up": follow_up,
        "long ago": long_ago,
    }


def listing(app, tmp_path, *args: str):
    path = tmp_path / "listing.xlsx"
    result = app.test_cli_runner().invoke(args=["listing", *args, "-o", str(path)])
    assert result.exit_code == 0, result.output
    return load_workbook(path), result.output


def rows(sheet) -> list[dict[str, object]]:
    values = list(sheet.iter_rows(values_only=True))
    return [dict(zip(values[0], row, strict=False)) for row in values[1:]]


def blocks(sheet) -> dict[str, list[tuple]]:
    """Return each block of the summary sheet by its bold title, with the rows under it."""
    found: dict[str, list[tuple]] = {}
    current: list[tuple] = []
    for row in sheet.iter_rows():
        if row[0].value is None:
            continue
        if row[0].font.bold:
            current = found[row[0].value] = []
        else:
            current.append(tuple(c.value for c in row))
    return found


def test_the_listing_holds_one_row_per_case_of_the_product_in_the_period(app, tmp_path, cases):
    book, output = listing(app, tmp_path, "--product", "国药准字H61020123", *PERIOD)
    assert "3 cases of 阿莫西林胶囊 国药准字H61020123, 1 duplicate or invalid left out" in output
    assert book.sheetnames == ["病例列表", "汇总表"]
    sheet = book["病例列表"]
    assert [c.value for c in sheet[1]] == [term.zh for term in COLUMNS]
    listed = {row["病例编码(首次报告)"]: row for row in rows(sheet)}
    assert set(listed) == {cases["rash"], cases["serious"], cases["formula"]}

    rash = listed[cases["rash"]]
    assert rash["第0天"].date() == TODAY and rash["国家"] == "中国"
    assert (rash["年龄"], rash["性别"]) == ("68岁", "女")
    assert rash["不良反应/事件"] == "皮疹、瘙痒"  # the follow-up's, the case as it stands now
    assert (rash["严重"], rash["严重性标准"], rash["结果"]) == ("否", None, "痊愈")
    assert (rash["关联性评价"], rash["关联性评价人"]) == ("很可能", "报告人")
    assert rash["批号"] == "20260315A"
    # The duplicate merged into the case (its reports joined it), then the follow-up.
    assert rash["跟踪报告编码"] == f"{cases['duplicate']}、{cases['follow-up']}"

    serious = listed[cases["serious"]]
    assert (serious["严重"], serious["严重性标准"]) == ("是", "导致住院或住院时间延长、危及生命")
    assert (serious["关联性评价"], serious["关联性评价人"]) == ("可能", "报告单位")
    assert serious["已知/新的"] == "新的(说明书未载明)"
    assert serious["处理状态"] == "审核中"

    headers = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        if row[0].value == cases["formula"]:
            reaction = row[headers.index("不良反应/事件")]
            assert (reaction.value, reaction.data_type) == (f"{FORMULA}、皮疹", "s")
            assert reaction.quotePrefix


def test_the_summary_tabulates_reactions_and_seriousness(app, tmp_path, cases):
    book, _ = listing(app, tmp_path, "--product", "阿莫西林胶囊", *PERIOD)
    summary = blocks(book["汇总表"])
    about = {row[0]: row[1] for row in summary["说明"]}
    assert about["产品"] == "阿莫西林胶囊 国药准字H61020123"
    assert about["匹配方式"].startswith("产品目录中的产品")
    assert about["未列入的重复病例和无效病例"] == 1
    totals = {row[0]: row[1] for row in summary["病例数"]}
    assert totals == {"列入病例": 3, "严重": 1, "非严重": 2, "死亡": 0}
    by_reaction = {
        row[0]: row[1:4] for row in summary[next(k for k in summary if "按不良反应" in k)][1:]
    }
    assert by_reaction == {
        "皮疹": (0, 2, 2),
        "瘙痒": (0, 1, 1),
        "过敏性休克": (1, 0, 1),
        "呼吸困难": (1, 0, 1),
        FORMULA: (0, 1, 1),
    }
    by_criterion = {row[0]: row[1] for row in summary["按严重性标准(严重病例)"][1:]}
    assert by_criterion == {"导致住院或住院时间延长": 1, "危及生命": 1}


def test_a_name_outside_the_catalogue_matches_drugs_as_typed(app, tmp_path, cases):
    book, output = listing(app, tmp_path, "--product", "布洛芬片", *PERIOD, "--lang", "en")
    assert "1 cases of 布洛芬片" in output
    assert [c.value for c in book["Line listing"][1]] == [term.en for term in COLUMNS]
    (row,) = rows(book["Line listing"])
    assert row["Case reference (first report)"] == cases["other product"]
    assert row["Country"] == "China" and row["Sex"] == "Female"
    about = {r[0]: r[1] for r in blocks(book["Summary tabulations"])["About this listing"]}
    assert about["How drugs were matched"].startswith("Not in the catalogue")


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--product", "不存在的药", *PERIOD], 1, "no product '不存在的药'"),
        (
            ["--product", "阿莫西林胶囊", "--from", "2026-02-30", "--to", "2026-03-01"],
            2,
            "not a date",
        ),
        (
            ["--product", "阿莫西林胶囊", "--from", "2026/01/01", "--to", "2026-03-01"],
            2,
            "not a date",
        ),
        (
            ["--product", "阿莫西林胶囊", "--from", "2026-03-02", "--to", "2026-03-01"],
            2,
            "after it ends",
        ),
    ],
)
def test_bad_input_is_one_line_and_an_exit_status(app, staff, tmp_path, args, status, message):
    path = tmp_path / "never.xlsx"
    result = app.test_cli_runner().invoke(args=["listing", *args, "-o", str(path)])
    assert result.exit_code == status
    assert result.output.startswith("adr: ") and message in result.output
    assert not path.exists()


def test_staff_download_the_listing_and_it_is_audited(app, staff, cases):
    page = staff.get("/staff/listing").get_data(as_text=True)
    assert '<option value="国药准字H61020123">' in page
    query = f"product=H61020123&from={TODAY - timedelta(days=10)}&to={TODAY}"
    response = staff.get(f"/staff/listing.xlsx?{query}")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    response.close()
    assert len(rows(book.worksheets[0])) == 3
    with app.app_context():
        entry = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "listing downloaded")
        ).one()
        assert entry.actor == REVIEWER and "3 cases" in entry.new_value


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("product=不存在的药&from=2026-01-01&to=2026-03-01", "listing-product-error"),
        ("product=阿莫西林胶囊&from=2026-03-01&to=2026-01-01", "listing-period-error"),
        ("product=阿莫西林胶囊&from=yesterday&to=", "listing-period-error"),
        ("", "listing-product-error"),
    ],
)
def test_bad_input_on_the_staff_download_is_a_400_that_keeps_what_was_typed(staff, query, error):
    response = staff.get(f"/staff/listing.xlsx?{query}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'id="{error}"' in page
    for part in query.split("&"):
        if part.split("=")[-1]:
            assert f'value="{part.split("=")[1]}"' in page


def test_the_listing_is_for_staff(client):
    for path in ("/staff/listing", "/staff/listing.xlsx?product=x&from=2026-01-01&to=2026-01-02"):
        response = client.get(path)
        response.close()
        assert response.status_code == 302


# Both listings of a varied month, cell by cell (tests/snapshots/listing-2025-06.jsonl), as the
# code before the listing read rows instead of ORM objects (issue 26) wrote them. After a change
# meant to alter cells, write it again (ADR_WRITE_SNAPSHOT=1) and read its diff.
SNAPSHOT = Path(__file__).parent / "snapshots" / "listing-2025-06.jsonl"
OUTSIDE = "复方感冒灵颗粒"  # a suspect drug of no catalogue product, matched as typed


def vary_the_month(app, tmp_path) -> None:
    """Fill June 2025 with demo cases, then make them as varied as a listing meets: coded and
    uncoded reactions, invalid cases, duplicates merged into their originals (their reports
    correcting the original's values), several suspect drugs, text a spreadsheet misreads."""
    result = app.test_cli_runner().invoke(
        args=["demo-data", "--reports", "60", "--month", "2025-06", "--seed", "5"]
    )
    assert result.exit_code == 0, result.output
    holder_case.import_meddra(app, tmp_path)
    complete_every_other_case(app)
    with app.app_context():
        product_id = db.session.scalar(
            sa.select(Product.id).where(Product.approval_number == "国药准字H61020123")
        )
        firsts = db.session.scalars(
            sa.select(Report.reference)
            .join(Case, Case.id == Report.case_id)
            .where(Case.status.not_in(regulatory.NOT_FOR_REGULATOR))
            .order_by(Report.id)
        ).all()
        db.session.execute(
            sa.update(Drug).where(Drug.role == "suspect").values(product_id=product_id)
        )
        db.session.commit()
    for original, duplicate in zip(firsts[0:12:3], firsts[1:12:3], strict=True):
        merge(app, duplicate, original)
    change(app, firsts[1], event_name=f"{FORMULA}、皮疹\x01；瘙痒", patient_sex="female")
    change(app, firsts[4], patient_age=None, patient_birth_date=date(1990, 2, 1))
    change(app, firsts[7], event_outcome="death", event_serious=["death"], patient_age=1)
    change_case(app, firsts[0], company_causality="possible", expectedness="listed")
    change_case(app, firsts[3], suggested_expectedness="new", assessed_outcome="sequelae")
    change_case(app, firsts[6], serious=True, death=True, assessed_serious=["death"])
    change_case(app, firsts[12], status="duplicate")
    change_case(app, firsts[13], status="invalid", invalid_reason="not_adverse_event")
    with app.app_context(), write_transaction() as session:
        for number, reference in enumerate(firsts[14:30]):
            report = session.scalar(sa.select(Report).where(Report.reference == reference))
            batch = ["=B2", "20250601", None, "@1\x02"][number % 4]
            report.drugs.append(
                Drug(
                    position=len(report.drugs),
                    role="suspect",
                    generic_name="阿莫西林胶囊" if number % 2 else OUTSIDE,
                    batch_number=batch,
                    product_id=product_id if number % 2 else None,
                )
            )


def test_both_listings_are_cell_for_cell_their_snapshot(app, tmp_path):
    vary_the_month(app, tmp_path)
    found = []
    for language in ("zh", "en"):
        for product in ("H61020123", OUTSIDE):
            args = ("--product", product, "--from", "2025-06-01", "--to", "2025-06-30")
            book, output = listing(app, tmp_path, *args, "--lang", language)
            counts = output.split(": ", 1)[1].strip()  # after the file's path
            found += snapshot_lines(book, f"{language} {product}: {counts}")
    if os.environ.get("ADR_WRITE_SNAPSHOT"):
        SNAPSHOT.write_text("\n".join(found) + "\n", encoding="utf8")
    expected = SNAPSHOT.read_text(encoding="utf8").splitlines()
    changed = [(e, f) for e, f in zip_longest(expected, found) if e != f]
    assert not changed, (
        f"{len(changed)} lines differ, the first:\n-{changed[0][0]}\n+{changed[0][1]}"
    )
