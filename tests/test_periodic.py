"""Periodic reports: a product's PSUR tabulations read back with openpyxl, exposure and rates,
the annual report's figures, the staff page and its charts, and the new MedDRA columns."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from adr import accounts, meddra
from adr.cases import merges
from adr.extensions import db
from adr.models import (
    AuditEntry,
    Case,
    Drug,
    GroupEvent,
    Product,
    ProductExposure,
    Reaction,
    Report,
    Signal,
    SignalStep,
    write_transaction,
)
from adr.regulator import listing, periodic
from tests.conftest import COMPANY, app_on_new_database, hidden_inputs
from tests.meddra_fixture import ANAPHYLACTIC_SHOCK, PRURITUS, RASH, write_release
from tests.test_i18n import LATIN_ON_CHINESE_PAGES, latin_words

NAUSEA, SKIN, GUT, IMMUNE = 83000004, 80000001, 80000002, 80000005
SKIN_RASH = 84000001  # an LLT of the PT rash
PASSWORD = "correct horse battery"
REVIEWER = "reviewer@tianning.example"
A, B = "国药准字H61020123", "国药准字Z61020456"
INTERVAL = ("2026-01-01", "2026-06-30")
NOW = datetime(2026, 3, 1, 4, tzinfo=UTC)
_serial = iter(range(1, 10_000))


def add_case(
    product: Product,
    aware_on: date,
    *,
    serious: bool = False,
    death: bool = False,
    llts: tuple[int | None, ...] = (),
    source: str = "web",
    kind: str | None = "pharmacist",
    status: str = "received",
    role: str = "suspect",
    category: str | None = None,
    due: tuple[datetime, date | None] | None = None,
    duplicate_of: Case | None = None,
    also: Product | None = None,
    not_serious: tuple[int, ...] = (),
) -> Case:
    """Add a case of one report naming `product`, with reactions coded to `llts` (None: not
    coded)."""
    number = next(_serial)
    received = datetime(aware_on.year, aware_on.month, aware_on.day, 2, tzinfo=UTC)
    category = category or ("serious" if serious else "general")
    case = Case(
        status=status,
        serious=serious,
        death=death,
        report_category=category,
        valid_case=True,
        duplicate_of_id=duplicate_of.id if duplicate_of else None,
    )
    report = Report(
        reference=f"ADR-202601-T{number:05d}",
        submission_token=f"token-{number}",
        received_at=received,
        added_at=received,
        language="zh",
        case=case,
        source=source,
        aware_on=aware_on,
        reporter_kind=kind,
        event_name="皮疹",
        event_outcome="death" if death else None,
        serious=serious,
        report_category=category,
        day_zero=aware_on,
        due_at=due[0] if due else None,
        submitted_to_regulator_on=due[1] if due else None,
        valid_case=True,
        completeness=100,
    )
    report.drugs.append(
        Drug(position=0, role=role, generic_name=product.generic_name, product_id=product.id)
    )
    if also:
        report.drugs.append(
            Drug(position=1, role="suspect", generic_name=also.generic_name, product_id=also.id)
        )
    db.session.add(report)
    db.session.flush()
    for position, llt in enumerate(llts):
        db.session.add(
            Reaction(
                case_id=case.id,
                report_id=report.id,
                position=position,
                reported_term=f"反应{position}",
                language="zho",
                meddra_version="27.1" if llt else None,
                llt_code=llt,
                serious=[] if llt in not_serious else None,  # []: staff set it not serious
            )
        )
    return case


@pytest.fixture(scope="module")
def world(request, engine, tmp_path_factory):
    """A product's cases in and before the interval, and some that must not count."""
    folder = tmp_path_factory.mktemp("periodic")
    for app in app_on_new_database(request, engine, folder):
        with app.app_context():
            meddra.import_release(write_release(folder / "en", "en"), "test")
            meddra.import_release(write_release(folder / "zh", "zh"), "test")
            accounts.create_user(REVIEWER, "审核员", "reviewer", PASSWORD, "test")
            a = Product(generic_name="阿莫西林胶囊", approval_number=A, manufacturer=COMPANY)
            b = Product(generic_name="板蓝根颗粒", approval_number=B, manufacturer=COMPANY)
            db.session.add_all([a, b])
            db.session.flush()
            c1 = add_case(
                a,
                date(2026, 2, 1),
                serious=True,
                llts=(SKIN_RASH, PRURITUS),
                due=(datetime(2026, 2, 16, 15, 59, tzinfo=UTC), date(2026, 2, 10)),
            )
            add_case(a, date(2026, 3, 10), llts=(RASH,), source="phone", kind="patient")
            add_case(a, date(2025, 6, 1), llts=(NAUSEA,), kind="physician")
            died = add_case(
                a,
                date(2026, 4, 5),
                serious=True,
                death=True,
                llts=(ANAPHYLACTIC_SHOCK,),
                source="literature",
                kind="physician",
                category="new_serious",
                due=(datetime(2026, 4, 6, 15, 59, tzinfo=UTC), date(2026, 4, 10)),
            )
            add_case(a, date(2026, 5, 1), llts=(None, RASH), source="study", kind="nurse")
            add_case(a, date(2026, 6, 1), source="regulator", kind=None, role="interacting")
            add_case(a, date(2026, 2, 2), llts=(RASH,), status="invalid")
            add_case(a, date(2026, 2, 3), llts=(RASH,), status="duplicate", duplicate_of=c1)
            add_case(a, date(2026, 7, 15), serious=True, llts=(RASH,))  # after the DLP
            add_case(b, date(2026, 2, 1), llts=(RASH,))
            add_case(a, date(2026, 3, 3), llts=(RASH,), role="concomitant")  # not suspected
            detected = datetime(2026, 3, 1, 2, tzinfo=UTC)
            signal = Signal(
                product_id=a.id,
                pt_code=RASH,
                soc_code=SKIN,
                status="validated",
                detected_at=detected,
                validation_due_on=date(2026, 3, 31),
            )
            db.session.add(signal)
            db.session.flush()
            db.session.add(SignalStep(signal_id=signal.id, step="validated", at=detected, by="x"))
            db.session.add(
                GroupEvent(
                    product_id=a.id,
                    kind="deaths",
                    opened_at=detected,
                    known_on=date(2026, 4, 6),
                    investigation_due_on=date(2026, 4, 13),
                )
            )
            other_products(a)
            db.session.commit()
            app.config["PERIODIC_DEATH"] = died.reports[0].reference
        yield app


C, D = "国药准字H61020789", "国药准字H61020790"
D_NAME = "_$1$\x07布洛芬"  # mathtext, a hidden legend label, a character XML forbids
NOT_FOUND_LLT = 89999999  # in no MedDRA version


def other_products(a: Product) -> None:
    """Product C's cases for the reviewer's findings, one also naming D; two signals."""
    c = Product(generic_name="对乙酰氨基酚片", approval_number=C, manufacturer=COMPANY)
    d = Product(generic_name=D_NAME, approval_number=D, manufacturer=COMPANY)
    db.session.add_all([c, d])
    db.session.flush()
    # serious, but staff set its rash not serious; it names D too
    add_case(c, date(2026, 2, 10), serious=True, llts=(RASH, PRURITUS), not_serious=(RASH,),
             also=d)  # fmt: skip
    add_case(c, date(2026, 3, 5), llts=(NOT_FOUND_LLT, RASH))
    add_case(c, date(2026, 8, 1), llts=(RASH,))  # after the interval
    # known in 2025; the death is learnt from a follow-up received in the interval
    old = add_case(c, date(2025, 5, 1), serious=True, death=True, llts=(RASH,))
    first = old.reports[0]
    first.event_outcome = None
    received = datetime(2026, 3, 1, 2, tzinfo=UTC)
    follow_up = Report(
        reference="ADR-202603-F00001", submission_token="token-follow-up",
        received_at=received, added_at=received,
        language="zh", case=old, follow_up_of_id=first.id, source="phone",
        aware_on=date(2026, 3, 1),
        reporter_kind="physician", event_name="皮疹", event_outcome="death", serious=True,
        report_category="serious", day_zero=date(2026, 3, 1), valid_case=True, completeness=100,
    )  # fmt: skip
    db.session.add(follow_up)
    at = datetime(2025, 10, 1, 2, tzinfo=UTC)
    ongoing = Signal(product_id=c.id, pt_code=RASH, soc_code=SKIN, status="closed",
                     detected_at=at, validation_due_on=date(2025, 10, 31))  # fmt: skip
    refuted = Signal(product_id=c.id, pt_code=PRURITUS, soc_code=SKIN, status="refuted",
                     detected_at=at, validation_due_on=date(2025, 10, 31))  # fmt: skip
    db.session.add_all([ongoing, refuted])
    db.session.flush()
    for signal, step, day in [
        (ongoing, "validated", datetime(2025, 10, 5, tzinfo=UTC)),
        (ongoing, "closed", datetime(2026, 8, 1, tzinfo=UTC)),  # after the DLP
        (refuted, "refuted", datetime(2025, 11, 1, tzinfo=UTC)),
    ]:
        db.session.add(SignalStep(signal_id=signal.id, step=step, at=day, by="x"))


def table(sheet) -> list[tuple]:
    return list(sheet.iter_rows(values_only=True))


def counts_by_pt(rows: list[tuple]) -> dict[object, tuple]:
    """Return each PT line's six figures, keyed by PT code ('uncoded', 'cases' …)."""
    found = {}
    for row in rows[1:]:
        if row[0] is None:
            break
        key = row[3] or {"未编码": "uncoded", "Not coded": "uncoded"}.get(row[2], row[2] or row[0])
        if row[2] in ("小计", "Subtotal"):
            key = ("soc", row[1])
        found[key] = row[4:10]
    return found


def test_the_psur_workbook_counts_by_soc_and_pt_source_and_lists_deaths(world, tmp_path):
    runner = world.test_cli_runner()
    path = tmp_path / "psur.xlsx"
    result = runner.invoke(
        args=[
            "periodic",
            "--product",
            "H61020123",
            "--from",
            INTERVAL[0],
            "--to",
            INTERVAL[1],
            "-o",
            str(path),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "6 cases" in result.output and "5 in the interval" in result.output
    book = load_workbook(path)
    assert book.sheetnames == [
        "汇总表(按SOC和PT)", "按报告来源", "死亡病例", "暴露量与报告率", "病例列表", "本期信号",
    ]  # fmt: skip
    rows = table(book["汇总表(按SOC和PT)"])
    assert rows[0][:4] == ("系统器官分类(SOC)", "SOC代码", "首选语(PT)", "PT代码")
    counts = counts_by_pt(rows)
    # interval serious, non-serious, total; cumulative serious, non-serious, total
    assert counts[RASH] == (1, 2, 3, 1, 2, 3)  # an LLT counts under its PT
    assert counts[PRURITUS] == (1, 0, 1, 1, 0, 1)
    assert counts[("soc", SKIN)] == (2, 2, 4, 2, 2, 4)
    assert counts[NAUSEA] == (0, 0, 0, 0, 1, 1)  # known before the interval
    assert counts[ANAPHYLACTIC_SHOCK] == (1, 0, 1, 1, 0, 1)
    assert counts["uncoded"] == (0, 2, 2, 0, 2, 2)  # one reaction uncoded, and no reaction
    assert counts["合计(不良反应数)"] == (3, 4, 7, 3, 5, 8)
    assert counts["病例数"] == (2, 3, 5, 2, 4, 6)
    skin_row = next(row for row in rows if row[3] == RASH)
    assert skin_row[:3] == ("皮肤及皮下组织类疾病", SKIN, "皮疹")
    about = {row[0]: row[1] for row in rows if row[0]}
    assert about["未计入的病例(无效、重复或缺少最低要素)"] == 2
    assert about["MedDRA版本"] == "27.1"

    sources = {row[0]: row[1:] for row in table(book["按报告来源"])[1:7]}
    assert sources["医务人员"] == (1, 0, 1, 1, 1, 2)
    assert sources["消费者(患者及亲友)"] == (0, 1, 1, 0, 1, 1)
    assert sources["文献报道"] == (1, 0, 1, 1, 0, 1)
    assert sources["上市后研究"] == (0, 1, 1, 0, 1, 1)
    assert sources["其他"] == (0, 1, 1, 0, 1, 1)
    assert sources["病例数"] == (2, 3, 5, 2, 4, 6)

    deaths = table(book["死亡病例"])
    assert deaths[1:] == [
        (world.config["PERIODIC_DEATH"], datetime(2026, 4, 5), f"{ANAPHYLACTIC_SHOCK} 过敏性休克",
         "否")
    ]  # fmt: skip
    listed = table(book["病例列表"])
    assert listed[0][-4:] == ("MedDRA低位语(LLT)", "MedDRA首选语(PT)", "MedDRA系统器官分类(SOC)",
                              "本期收到随访")  # fmt: skip
    assert listed[0][1] == "第0天"
    assert len(listed) == 6
    first = listed[1]
    assert first[-4] == f"{SKIN_RASH} 皮肤皮疹 (27.1)\n{PRURITUS} 瘙痒 (27.1)"
    assert first[-3] == f"{RASH} 皮疹\n{PRURITUS} 瘙痒"  # one line per reaction, aligned
    assert first[-2] == f"{SKIN} 皮肤及皮下组织类疾病\n{SKIN} 皮肤及皮下组织类疾病"
    assert first[-1] == "否"
    signals = table(book["本期信号"])
    assert signals[1][1:5] == ("皮疹", RASH, "已确认", datetime(2026, 3, 1))


def test_a_data_lock_point_ends_the_interval_and_the_cumulative_counts(world):
    with world.app_context():
        product = periodic.find_product(A)
        early = periodic.tabulate(product, periodic.parse_interval(*INTERVAL, "2026-03-31"))
        assert (early.cases.interval, early.cases.cumulative) == (2, 3)
        assert early.deaths == [] and early.uncoded == periodic.Counts()
        assert periodic.find_product(str(product.id)) == product  # its id does too


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--product", "不存在的药", "--from", "2026-01-01", "--to", "2026-06-30"], "no product"),
        (["--product", "999999", "--from", "2026-01-01", "--to", "2026-06-30"], "no product"),
        (["--product", "9" * 30, "--from", "2026-01-01", "--to", "2026-06-30"], "no product"),
        (["--product", A, "--from", "2026-06-30", "--to", "2026-01-01"], "after it ends"),
        (["--product", A, "--from", "yesterday", "--to", "2026-01-01"], "not a date"),
        (
            ["--product", A, "--from", "2026-01-01", "--to", "2026-06-30", "--dlp", "2025-12-31"],
            "data lock point",
        ),
    ],
)
def test_bad_arguments_exit_2_with_one_line(world, tmp_path, args, message):
    result = world.test_cli_runner().invoke(args=["periodic", *args, "-o", str(tmp_path / "x")])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "x").exists()


def login(app):
    client = app.test_client()
    token = hidden_inputs(client.get("/login").get_data(as_text=True))["csrf_token"]
    client.post("/login", data={"email": REVIEWER, "password": PASSWORD, "csrf_token": token})
    return client


def figures_stored(app, year: int = 2026) -> None:
    """Store the year's cases per month, as the monthly command does, unless stored."""
    with app.app_context():
        if periodic.stored_figures(year) is None:
            periodic.compute_figures(year, "command")


def test_the_page_shows_the_tabulations_and_the_charts_with_their_tables(world):
    figures_stored(world)
    client = login(world)
    query = {"product": A, "from": INTERVAL[0], "to": INTERVAL[1]}
    for language in ("zh_CN", "en"):
        client.get(f"/staff/?lang={language}")
        page = client.get("/staff/periodic", query_string=query | {"year": "2026"})
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert re.search(rf'<tr data-pt="{RASH}">.*?<td data-count="interval_serious">1</td>'
                         r'<td data-count="interval_non_serious">2</td>', html)  # fmt: skip
        assert '<caption id="soc-pt-caption">' in html and 'scope="row"' in html
        assert world.config["PERIODIC_DEATH"] in html
        for chart in ("cases", "on-time"):
            svg = client.get(f"/staff/periodic/{chart}.svg?year=2026")
            assert svg.mimetype == "image/svg+xml" and b"<script" not in svg.data
            assert b"font-family" in svg.data and b"<text" in svg.data  # text stays text
        assert "阿莫西林胶囊 国药准字H61020123" in client.get(
            "/staff/periodic/cases.svg?year=2026"
        ).get_data(as_text=True)
        # the figures of the charts as tables: January's case and March's on-time rate
        assert re.search(
            r"<th scope=\"row\">阿莫西林胶囊 国药准字H61020123</th><td>0</td><td>1</td>", html
        )
        assert re.search(r'data-month="2026-02">.*?<td data-count="rate">100.0%</td>', html)
        assert re.search(r'data-month="2026-04">.*?<td data-count="rate">0.0%</td>', html)
    assert "定期报告" in client.get("/staff/?lang=zh_CN").get_data(as_text=True)
    chinese = client.get("/staff/periodic", query_string=query).get_data(as_text=True)
    staff_words = {"PSUR", "PBRER", "ICH", "E2C", "R2", "MedDRA", "SOC", "PT"}
    assert latin_words(chinese) <= LATIN_ON_CHINESE_PAGES | staff_words, latin_words(chinese)
    refused = client.get(
        "/staff/periodic", query_string={"product": A, "from": "2026-13-01", "to": "x"}
    )
    assert refused.status_code == 400 and 'value="2026-13-01"' in refused.get_data(as_text=True)
    assert (
        client.get("/staff/periodic.xlsx", query_string={"product": "nothing"}).status_code == 400
    )


def test_staff_download_the_workbook_and_the_annual_report_audited(world):
    assert world.test_client().get("/staff/periodic.xlsx").status_code in (302, 303)  # login
    client = login(world)
    client.get("/staff/?lang=en")
    response = client.get(
        "/staff/periodic.xlsx", query_string={"product": A, "from": INTERVAL[0], "to": INTERVAL[1]}
    )
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    response.close()
    assert book.sheetnames[0] == "Summary tabulations"
    annual = client.get("/staff/periodic/annual.xlsx?year=2026")
    annual_book = load_workbook(io.BytesIO(annual.data))
    annual.close()
    rows = table(annual_book["Annual report"])
    assert rows[0][:6] == (
        "Product",
        "Approval number",
        "Reports",
        "Serious",
        "Deaths",
        "New (unexpected)",
    )
    by_number = {row[1]: row[2:] for row in rows[1:] if row[1]}
    # reports, serious, deaths, new, signals opened, closed, group events
    assert by_number[A] == (6, 3, 1, 1, 1, 0, 1)  # the case after the DLP is of the year too
    assert by_number[B] == (1, 0, 0, 0, 0, 0, 0)
    assert by_number[C][:4] == (3, 1, 0, 0) and by_number[D][:4] == (1, 1, 0, 0)
    total = next(row for row in rows if row[0] == "Total")
    assert total[2:4] == (10, 4)  # the case naming C and D counted once
    on_time = {row[0]: row for row in table(annual_book["On-time rate"])}
    assert on_time["Total"][1:5] == (2, 1, 1, 0) and on_time["Total"][7] == 0.5
    assert annual_book["On-time rate"]["H2"].number_format == "0.0%"
    with world.app_context():
        downloads = db.session.scalars(
            sa.select(AuditEntry.new_value).where(AuditEntry.action == "periodic downloaded")
        ).all()
    assert any(A in entry for entry in downloads) and "annual report 2026" in downloads


def exposure_post(client, **values):
    page = client.get("/staff/periodic").get_data(as_text=True)
    token = hidden_inputs(page)["csrf_token"]
    data = {f"exposure-{name}": value for name, value in values.items()}
    return client.post("/staff/periodic/exposure", data=data | {"csrf_token": token})


def test_exposure_is_entered_audited_refused_when_wrong_and_gives_rates(world):
    client = login(world)
    client.get("/staff/?lang=en")
    with world.app_context():
        product_id = str(periodic.find_product(A).id)
    good = {"product": product_id, "unit": "packs", "from": "2026-01-01", "to": "2026-03-31",
            "amount": "20,000", "note": "ERP"}  # fmt: skip
    no_token = {f"exposure-{name}": value for name, value in good.items()}
    assert client.post("/staff/periodic/exposure", data=no_token).status_code == 400
    assert exposure_post(client, **good).status_code == 303
    for changed, why in [
        ({"from": "2026-03-01", "to": "2026-04-30"}, "must not overlap"),
        ({"from": "2026-05-01", "to": "2026-04-01"}, "starts after it ends"),
        ({"from": "2026-04-01", "to": "2026-04-30", "amount": "-5"}, "greater than zero"),
        ({"from": "2026-04-01", "to": "2026-04-30", "amount": "9" * 12}, "hundred million"),
        ({"unit": "tons"}, "packs sold or patient-days"),
        ({"product": "9" * 30}, "a product of the catalogue"),
    ]:
        refused = exposure_post(client, **(good | changed))
        html = refused.get_data(as_text=True)
        assert refused.status_code == 400 and why in html, why
        assert f'value="{(good | changed)["amount"]}"' in html  # kept as typed
    with world.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ProductExposure)) == 1
        entries = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "exposure entered")
        ).all()
        assert [entry.actor for entry in entries] == [REVIEWER]
        tabulation = periodic.tabulate(periodic.find_product(A), periodic.parse_interval(*INTERVAL))
        (rate,) = tabulation.rates
        assert (rate.amount, rate.cases, rate.covered_days, rate.interval_days) == (
            20_000,
            2,
            90,
            181,
        )
        assert rate.rate == pytest.approx(1.0) and rate.partial  # cases per 10,000 packs
    page = client.get(
        "/staff/periodic", query_string={"product": A, "from": INTERVAL[0], "to": INTERVAL[1]}
    )
    html = page.get_data(as_text=True)
    assert "only part of the interval" in html and ">ERP</td><td>" + REVIEWER in html
    query = {"product": A, "from": INTERVAL[0], "to": INTERVAL[1]}
    with world.app_context():
        entry = db.session.scalars(sa.select(ProductExposure)).one().id
    token = hidden_inputs(html)["csrf_token"]
    url = f"/staff/periodic/exposure/{entry}"
    typed = {"action": "correct", "amount": "30,000", "csrf_token": token}
    no_reason = client.post(url, query_string=query, data=typed)
    assert no_reason.status_code == 400 and 'value="30,000"' in no_reason.get_data(as_text=True)
    assert "Give the reason" in no_reason.get_data(as_text=True)
    corrected = client.post(url, query_string=query, data=typed | {"reason": "ERP re-run"})
    assert corrected.status_code == 303
    assert client.post(url, data={"action": "remove", "reason": "wrong product",
                                  "csrf_token": token}).status_code == 303  # fmt: skip
    with world.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ProductExposure)) == 0
        trail = db.session.execute(
            sa.select(AuditEntry.old_value, AuditEntry.new_value)
            .where(AuditEntry.action == "exposure corrected")
            .order_by(AuditEntry.id)
        ).all()
    assert trail[0][0].endswith(": 20000 (ERP)") and trail[0][1].endswith(
        ": 30000 (ERP): ERP re-run"
    )
    assert trail[1] == (trail[0][1].removesuffix(": ERP re-run"), "removed: wrong product")


def test_the_monthly_workbook_and_the_listing_gain_pt_and_soc(world, tmp_path):
    from tests.test_export import CHECKER

    runner = world.test_cli_runner()
    path = tmp_path / "2026-02.xlsx"
    assert runner.invoke(args=["export", "2026-02", "-o", str(path)]).exit_code == 0
    rows = table(load_workbook(path)["个例报告"])
    assert rows[0][-2:] == ("MedDRA首选语(PT)", "MedDRA系统器官分类(SOC)")
    coded = next(row for row in rows[1:] if row[-2] and str(PRURITUS) in row[-2])
    assert (
        coded[-2] == f"{RASH} 皮疹\n{PRURITUS} 瘙痒" and coded[-1] == f"{SKIN} 皮肤及皮下组织类疾病"
    )
    if CHECKER.exists():
        import subprocess
        import sys

        checked = subprocess.run([sys.executable, str(CHECKER), "workbook", str(path)],
                                 capture_output=True, text=True, timeout=60)  # fmt: skip
        assert checked.returncode == 0, checked.stdout
    with world.app_context():
        out = io.BytesIO()
        choice = listing.find_product(A)
        listing.write_listing(choice, date(2026, 2, 1), date(2026, 2, 28), out)
    listed = table(load_workbook(out)["病例列表"])
    assert listed[0][-1] == "MedDRA系统器官分类(SOC)"
    assert any(row[-2] == f"{RASH} 皮疹\n{PRURITUS} 瘙痒" for row in listed[1:])


def test_follow_ups_seriousness_per_reaction_ongoing_signals_and_lost_codes(world, tmp_path):
    path = tmp_path / "c.xlsx"
    args = ["periodic", "--product", C, "--from", INTERVAL[0], "--to", INTERVAL[1], "-o", path]
    assert world.test_cli_runner().invoke(args=[str(arg) for arg in args]).exit_code == 0
    book = load_workbook(path)
    counts = counts_by_pt(table(book["汇总表(按SOC和PT)"]))
    # interval serious, non-serious, total; cumulative serious, non-serious, total
    assert counts[RASH] == (0, 2, 2, 1, 2, 3)  # set not serious in the serious case
    assert counts[PRURITUS] == (1, 0, 1, 1, 0, 1)
    assert counts["uncoded"] == (0, 1, 1, 0, 1, 1)  # an LLT found in no version
    assert counts["病例数"] == (1, 1, 2, 2, 1, 3)  # the case keeps its seriousness
    (death,) = table(book["死亡病例"])[1:]
    assert death[1:] == (datetime(2025, 5, 1), f"{RASH} 皮疹", "是")  # learnt from a follow-up
    listed = table(book["病例列表"])
    assert [row[-1] for row in listed[1:]] == ["是", "否", "否"]  # known in 2025, followed up
    assert listed[1][1] == datetime(2025, 5, 1)  # day 0
    assert listed[3][-3] == f"—\n{RASH} 皮疹"  # PT cell aligned with the LLT cell
    (signal,) = table(book["本期信号"])[1:]
    assert signal[1:4] == ("皮疹", RASH, "已确认")  # ongoing; validated at the DLP, closed since
    with world.app_context():
        product = periodic.find_product(C)
        db.session.add(
            ProductExposure(product_id=product.id, period_start=date(2026, 1, 1),
                            period_end=date(2026, 12, 31), unit="packs", amount=1000,
                            entered_at=NOW, entered_by=REVIEWER, note="=1+1")
        )  # fmt: skip
        db.session.commit()
        tabulation = periodic.tabulate(product, periodic.parse_interval(*INTERVAL, "2026-03-01"))
        (line,) = tabulation.exposure
        assert (line.cases, line.used, line.rate, tabulation.rates) == (1, False, None, [])
        out = io.BytesIO()
        periodic.write_periodic(tabulation, out)
        row = load_workbook(out)["暴露量与报告率"][2]
        assert (row[5].value, row[7].value, row[7].data_type, row[8].value) == (
            None, "=1+1", "s", REVIEWER)  # fmt: skip
        db.session.execute(sa.delete(ProductExposure))
        db.session.commit()


@pytest.mark.parametrize(
    ("first", "last", "dlp"),
    [("2026-01-01", "2026-06-30", "2026-07-01"), ("0001-01-01", "9999-12-31", "")],
)
def test_a_dlp_after_the_interval_or_far_years_are_refused(world, tmp_path, first, last, dlp):
    client = login(world)
    query = {"product": A, "from": first, "to": last, "dlp": dlp}
    for url in ("/staff/periodic", "/staff/periodic.xlsx"):
        assert client.get(url, query_string=query).status_code == 400
    args = ["periodic", "--product", A, "--from", first, "--to", last, "-o", str(tmp_path / "x")]
    result = world.test_cli_runner().invoke(args=args + (["--dlp", dlp] if dlp else []))
    assert result.exit_code == 2 and not list(tmp_path.glob("*x*")), result.output


def test_charts_keep_odd_product_names_and_mark_months_owing_nothing(world):
    figures_stored(world)
    client = login(world)
    cases = client.get("/staff/periodic/cases.svg?year=2026").get_data(as_text=True)
    assert "$1$布洛芬" in cases and "\x07" not in cases  # as text, in the legend
    on_time = client.get("/staff/periodic/on-time.svg?year=2026").get_data(as_text=True)
    assert on_time.count("—") >= 10  # only February and April owed reports


def known_per_month(year: int) -> dict[tuple[int, int], int]:
    """Count a year's cases per month by product as the chart did before the figures were
    stored: from `cases_known`, case by case in Python."""
    counts: dict[tuple[int, int], int] = {}
    for case in periodic.cases_known(date(year, 1, 1), date(year, 12, 31)):
        for product_id in case.products:
            key = (product_id, case.aware_on.month)
            counts[key] = counts.get(key, 0) + 1
    return counts


def staff_entry(client, generic_name: str, aware_on: date) -> str:
    """Enter a report heard of by phone, as staff type it (the product linked by its name)."""
    page = client.get("/staff/reports/new").get_data(as_text=True)
    fields = {
        "case-source": "phone",
        "case-awareness_date": aware_on.isoformat(),
        "reporter-kind": "patient",
        "reporter-name": "李四",
        "patient-name": "李四",
        "patient-sex": "male",
        "patient-age": "45",
        "drugs-0-role": "suspect",
        "drugs-0-generic_name": generic_name,
        "event-name": "皮疹",
        "event-onset_date": aware_on.isoformat(),
    }
    response = client.post("/staff/reports/new", data={**hidden_inputs(page), **fields})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return response.location.rsplit("/", 1)[1]


def compute_now(client, year: str):
    page = client.get("/staff/periodic", query_string={"year": year}).get_data(as_text=True)
    token = hidden_inputs(page)["csrf_token"]
    return client.post("/staff/periodic/figures", data={"csrf_token": token, "year": year})


def test_the_page_reads_stored_figures_says_their_age_and_recomputes(world):
    """A year of its own (2024) and a product of its own, so that the module's other figures
    stay as they are."""
    with world.app_context():
        for year in (2025, 2026):  # one grouping in SQL counts as the case-by-case loop did
            assert periodic.count_per_month(year) == known_per_month(year) != {}
        e = Product(generic_name="氯雷他定片", approval_number="国药准字H61020999",
                    manufacturer=COMPANY)  # fmt: skip
        db.session.add(e)
        db.session.commit()
        e_id = e.id
    client = login(world)
    client.get("/staff/?lang=en")
    page = client.get("/staff/periodic?year=2024").get_data(as_text=True)
    assert 'id="figures-none"' in page and 'id="cases-per-month"' not in page
    assert "cases.svg" not in page  # no chart of figures not computed
    assert client.post("/staff/periodic/figures", data={"year": "2024"}).status_code == 400  # CSRF
    assert compute_now(client, "1999").status_code == 400
    response = compute_now(client, "2024")
    assert response.status_code == 303 and "year=2024" in response.location
    page = client.get(response.location).get_data(as_text=True)
    assert re.search(
        rf"Figures as of 20\d\d-\d\d-\d\d \d\d:\d\d \(China time\), computed by {REVIEWER}", page
    )
    assert 'id="figures-current"' in page and "No cases in this year." in page
    march = staff_entry(client, "氯雷他定片", date(2024, 3, 5))
    page = client.get("/staff/periodic?year=2024").get_data(as_text=True)
    assert re.search(r'id="figures-stale">Reports added since: 1 \(the latest at ', page)
    assert "No cases in this year." in page  # stored: the new case is not counted yet
    compute_now(client, "2024")
    page = client.get("/staff/periodic?year=2024").get_data(as_text=True)
    assert 'id="figures-current"' in page
    assert re.search(r"<th scope=\"row\">氯雷他定片 国药准字H61020999</th><td>0</td><td>0</td>"
                     r"<td>1</td>", page)  # fmt: skip
    assert "氯雷他定片" in client.get("/staff/periodic/cases.svg?year=2024").get_data(as_text=True)
    result = world.test_cli_runner().invoke(args=["periodic", "figures", "--year", "2024"])
    assert result.exit_code == 0 and result.output.startswith("periodic figures 2024: 1 cases")
    assert "computed by the monthly command" in client.get("/staff/periodic?year=2024").get_data(
        as_text=True
    )
    with world.app_context():
        assert periodic.count_per_month(2024) == known_per_month(2024) == {(e_id, 3): 1}
        computed = db.session.scalars(
            sa.select(AuditEntry.actor).where(AuditEntry.action == "periodic figures computed")
        ).all()
    assert computed.count(REVIEWER) >= 2 and "command" in computed
    # merges (a case's first-known day moves to its original's, into another year) count alike
    may = staff_entry(client, "氯雷他定片", date(2024, 5, 10))
    december = staff_entry(client, "氯雷他定片", date(2023, 12, 20))
    with world.app_context():
        assert periodic.count_per_month(2024) == {(e_id, 3): 1, (e_id, 5): 1}
        with write_transaction() as session:
            case_of = {
                report.reference: report.case
                for report in session.scalars(
                    sa.select(Report).where(Report.reference.in_([march, may, december]))
                )
            }
            merges.merge(session, case_of[may], case_of[march], REVIEWER)
            merges.merge(session, case_of[march], case_of[december], REVIEWER)
        for year in (2023, 2024):
            assert periodic.count_per_month(year) == known_per_month(year)
        assert periodic.count_per_month(2023) == {(e_id, 12): 1}
        assert periodic.count_per_month(2024) == {}
