"""Signal management: the open signals, one signal with its 2×2 table and figures, the workflow
from validation to closing with its tracking log (page and workbook), and the dashboard.

Detection is another module's: the signals here are stored as detection stores them, over real
cases sent through the public form.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, date, datetime, time, timedelta

import openpyxl
import pytest
import sqlalchemy as sa

from adr import accounts, regulatory
from adr.extensions import db
from adr.models import (
    AuditEntry,
    Product,
    Report,
    Signal,
    SignalCase,
    SignalFigure,
    SignalRun,
    SignalStep,
    write_transaction,
)
from adr.vocab import SIGNAL_TRIGGER, label
from tests.conftest import (
    COMPANY,
    ReportSender,
    app_on_new_database,
    hidden_inputs,
    reference_of,
    valid_report,
)
from tests.holder_case import import_meddra
from tests.meddra_fixture import ANAPHYLACTIC_SHOCK, RASH, VERSION
from tests.test_i18n import LATIN_ON_CHINESE_PAGES, latin_words
from tests.test_review import PASSWORD, REVIEWER, signed_in

TODAY = regulatory.china_today()
UNKNOWN_PT = 89999999  # in no MedDRA version: shown as its bare code


def add_signal(app, product: str, pt_code: int, status: str = "new", **values) -> int:
    """Store a signal as detection does: its run, figure, cases and the "detected" step."""
    with app.app_context(), write_transaction() as session:
        product_id = session.scalar(sa.select(Product.id).where(Product.generic_name == product))
        now = datetime.now(UTC)
        run = SignalRun(
            period="2026-11",
            period_start=date(2026, 11, 1),
            period_end=date(2026, 11, 30),
            meddra_version=VERSION,
            started_at=now,
            finished_at=now,
            run_by="command",
            cases=3,
            pairs=2,
            raised=1,
        )
        session.add(run)
        session.flush()
        figure = SignalFigure(
            run_id=run.id,
            product_id=product_id,
            pt_code=pt_code,
            soc_code=80000001,
            a=5,
            b=10,
            c=2,
            d=40,
            prr=4.67,
            chi2=6.12,
            ror=10.0,
            ror_lower=1.71,
            ror_upper=58.5,
            ic=1.21,
            ic025=0.03,
            period_count=4,
            baseline=0.75,
            poisson_p=0.0068,
            triggers=["prr", "ror", "ic", "trend"],
        )
        session.add(figure)
        session.flush()
        signal = Signal(
            product_id=product_id,
            pt_code=pt_code,
            soc_code=80000001,
            meddra_version=VERSION,
            status=status,
            triggers=values.pop("triggers", ["prr", "ror", "ic", "trend"]),
            detected_at=values.pop("detected_at", now),
            detected_by_run_id=run.id,
            latest_figure_id=figure.id,
            validation_due_on=values.pop("validation_due_on", TODAY + timedelta(days=30)),
            **values,
        )
        session.add(signal)
        session.flush()
        for reference, trigger in (("first", "prr"), ("second", "fatal")):
            case_id = session.scalar(
                sa.select(Report.case_id).where(Report.reference == app.config[reference])
            )
            session.add(
                SignalCase(signal_id=signal.id, case_id=case_id, trigger=trigger, added_at=now)
            )
        session.add(SignalStep(signal_id=signal.id, step="detected", at=now, by="command"))
        return signal.id


@pytest.fixture(scope="module")
def world(request, engine, tmp_path_factory):
    """A catalogue of two products, two cases, MedDRA, and three signals as detection left them:
    one awaiting validation past its due date, one awaiting it, one refuted."""
    folder = tmp_path_factory.mktemp("signals")
    for app in app_on_new_database(request, engine, folder):
        with app.app_context():
            accounts.create_user(REVIEWER, "审核员", "reviewer", PASSWORD, "test")
            db.session.add_all(
                [
                    Product(
                        generic_name="阿莫西林胶囊",
                        approval_number="国药准字H61020123",
                        manufacturer=COMPANY,
                    ),
                    Product(
                        generic_name="复方丹参片",
                        approval_number="国药准字Z61020432",
                        manufacturer=COMPANY,
                    ),
                ]
            )
            db.session.commit()
        import_meddra(app, folder)
        app.config["first"] = reference_of(ReportSender(app.test_client()).send(valid_report()))
        app.config["second"] = reference_of(
            ReportSender(app.test_client()).send(valid_report() | {"patient-name": "李某"})
        )
        late = datetime.now(UTC) - timedelta(days=40)
        app.config["late"] = add_signal(
            app, "阿莫西林胶囊", RASH, detected_at=late, validation_due_on=TODAY - timedelta(10)
        )
        app.config["shock"] = add_signal(app, "复方丹参片", ANAPHYLACTIC_SHOCK, triggers=["dme"])
        app.config["refuted"] = add_signal(app, "阿莫西林胶囊", UNKNOWN_PT, status="refuted")
        yield app


@pytest.fixture(scope="module")
def staff(world):
    return signed_in(world, REVIEWER)


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def post(client, signal_id: int, step: str, **fields):
    """Post a step from the signal's page, as the browser sends the form."""
    inputs = hidden_inputs(page(client, f"/staff/signals/{signal_id}"))
    data = {"csrf_token": inputs["csrf_token"], "seen": inputs["seen"], "step": step, **fields}
    return client.post(f"/staff/signals/{signal_id}", data=data)


def done(response) -> None:
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]


def status_of(app, signal_id: int) -> str:
    with app.app_context():
        return db.session.get(Signal, signal_id).status


def test_the_list_shows_each_open_signal_with_product_and_pt(world, staff):
    listed = page(staff, "/staff/signals")
    assert "阿莫西林胶囊" in listed and "国药准字H61020123" in listed
    assert "皮疹" in listed and str(RASH) in listed and "皮肤及皮下组织类疾病" in listed
    assert "过敏性休克" in listed and str(ANAPHYLACTIC_SHOCK) in listed
    assert f'/staff/signals/{world.config["refuted"]}"' not in listed  # refuted: not open
    assert "逾期" in listed  # the late one's validation due date
    assert "2026-11" in listed  # the latest run's period
    english = page(staff, "/staff/signals?lang=en")
    assert "Rash" in english and "Anaphylactic shock" in english
    refuted = page(staff, "/staff/signals?status=refuted&lang=zh_CN")
    assert f'/staff/signals/{world.config["refuted"]}"' in refuted and str(UNKNOWN_PT) in refuted
    with world.app_context():
        other = db.session.scalar(sa.select(Product.id).where(Product.generic_name == "复方丹参片"))
    filtered = page(staff, f"/staff/signals?product={other}&sort=due")
    assert "过敏性休克" in filtered and "皮疹" not in filtered
    for junk in ("?status=x&product=abc&sort=zz&overdue=2", "?page=x", "?product=" + "9" * 30):
        assert staff.get(f"/staff/signals{junk}").status_code == 200
    assert staff.get("/staff/signals?page=99").status_code == 404


def test_the_signal_page_shows_the_2x2_table_figures_and_cases(world, staff):
    shown = page(staff, f"/staff/signals/{world.config['late']}")
    for cell in ("a = 5", "b = 10", "c = 2", "d = 40", ">15<", ">42<", ">7<", ">50<", ">57<"):
        assert cell in shown, cell
    assert "本产品" in shown and "其他产品" in shown and "本PT" in shown
    for figure in ("4.67", "6.12", "1.71", "58.50", "0.03", "0.75", "0.0068", "PRR ≥ 2"):
        assert figure in shown, figure
    assert "产品数量少" in shown  # the small portfolio's limit, said plainly
    assert f'/staff/reports/{world.config["first"]}"' in shown and "死亡病例" in shown
    assert 'name="step" value="validate"' in shown and 'name="step" value="close"' not in shown
    english = page(staff, f"/staff/signals/{world.config['late']}?lang=en")
    assert "This product" in english and "Other PTs" in english and "Rash" in english
    assert "small portfolio" in english
    page(staff, "/staff/signals?lang=zh_CN")
    assert staff.get("/staff/signals/999999").status_code == 404
    assert staff.get("/staff/signals/abc").status_code == 404


def test_the_dashboard_counts_signals_awaiting_validation_and_overdue(world, staff):
    board = page(staff, "/staff/")
    assert "/staff/signals?status=new" in board and "信号" in board
    tile = board[board.index('id="signals-tile"') :][:600]
    assert "<strong>2</strong> 个信号待确认" in tile and "1个已超过确认期限" in tile
    late = page(staff, "/staff/signals?overdue=1")
    assert "皮疹" in late and "过敏性休克" not in late


def test_the_workflow_from_validation_to_closing_is_logged_with_dates_and_people(world, staff):
    signal_id = add_signal(world, "阿莫西林胶囊", 83000002)
    done(post(staff, signal_id, "validate", rationale="=1+1 三例皮疹,时间关联明确"))
    done(post(staff, signal_id, "prioritise", priority="high", rationale="严重病例"))
    done(post(staff, signal_id, "evaluate", assessment="说明书未载明", conclusion="confirmed"))
    due = (TODAY + timedelta(days=10)).isoformat()
    done(post(staff, signal_id, "action", kind="dhpc", description="致医务人员的函", due_on=due))
    inputs = hidden_inputs(page(staff, f"/staff/signals/{signal_id}"))
    done(post(staff, signal_id, "complete", action=inputs["action"], completed_on=str(TODAY)))
    done(post(staff, signal_id, "close", rationale="措施已完成"))
    assert status_of(world, signal_id) == "closed"
    with world.app_context():
        signal = db.session.get(Signal, signal_id)
        assert signal.evaluation_due_on == TODAY + timedelta(days=30)  # high: 30 days
        assert signal.validated_by == REVIEWER and signal.conclusion == "confirmed"
    shown = page(staff, f"/staff/signals/{signal_id}")
    log = shown[shown.index('id="tracking-log"') :]
    for step in ("检出", "确认", "确定优先级", "评价", "制定措施", "措施完成", "关闭"):
        assert f">{step}<" in log, step
    assert log.count(REVIEWER) == 6 and "措施已完成" in log and str(TODAY) in log

    response = staff.get("/staff/signals/log.xlsx?lang=en")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    response.close()
    staff.get("/staff/signals?lang=zh_CN")
    signals, steps, cases = book.worksheets
    header = [cell.value for cell in signals[1]]
    assert header[:5] == ["Signal", "Product", "Approval number", "PT name", "PT code"]
    values = next(r for r in signals.iter_rows(values_only=True) if r[0] == signal_id)
    row = dict(zip(header, values, strict=True))
    assert row["PT name"] == "Pruritus" and row["PT code"] == 83000002
    assert row["Validated or refuted by"] == REVIEWER and row["Priority"] == "High"
    assert isinstance(row["Validated or refuted on"], datetime)  # an Excel date
    assert row["Validation rationale"].startswith("=1+1")  # text, never a formula
    assert "completed" in row["Actions"] and row["Status"] == "Closed"
    assert row["Validation outcome"] == "Validated"
    assert row["Validation and reopening history"].endswith(f"Closed ({REVIEWER})")
    lines = [r for r in steps.iter_rows(min_row=2, values_only=True) if r[0] == signal_id]
    assert [line[3] for line in lines] == [
        "Detected",
        "Validated",
        "Prioritised",
        "Evaluated",
        "Action planned",
        "Action completed",
        "Closed",
    ]
    assert all(isinstance(line[1], datetime) for line in lines)
    assert [line[2] for line in lines[1:]] == [REVIEWER] * 6
    detail = {line[3]: line[5] for line in lines}
    assert f"evaluation due: {TODAY + timedelta(days=60)}" in detail["Validated"]
    assert detail["Prioritised"] == f"priority: High; evaluation due: {TODAY + timedelta(30)}"
    assert detail["Evaluated"] == "conclusion: Confirmed risk"
    assert detail["Action planned"].startswith("kind: ") and due in detail["Action planned"]
    assert f"completed on: {TODAY}" in detail["Action completed"]
    behind = [r for r in cases.iter_rows(min_row=2, values_only=True) if r[0] == signal_id]
    known = datetime.combine(TODAY, time())
    assert behind == [
        (signal_id, world.config[ref], label(SIGNAL_TRIGGER, trigger, "en"), known, "No", "No")
        for ref, trigger in (("first", "prr"), ("second", "fatal"))
    ]
    assert "李某" not in str(list(cases.values))
    with world.app_context():
        entries = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "signal step").order_by(AuditEntry.id)
        ).all()
        mine = [
            json.loads(e.new_value)
            for e in entries
            if json.loads(e.old_value)["signal"] == signal_id
        ]
        assert [(e["step"], e["status"]) for e in mine] == [
            ("validated", "validated"),
            ("prioritised", "prioritised"),
            ("evaluated", "evaluated"),
            ("action_added", "evaluated"),
            ("action_done", "evaluated"),
            ("closed", "closed"),
        ]
        downloaded = sa.select(AuditEntry).where(AuditEntry.action == "signal log downloaded")
        assert db.session.scalars(downloaded).first().actor == REVIEWER


def test_a_refuted_signal_is_closed_and_reopened_with_a_reason(world, staff):
    signal_id = add_signal(world, "复方丹参片", 83000004)
    done(post(staff, signal_id, "refute", rationale="与原发病相关"))
    assert status_of(world, signal_id) == "refuted"
    done(post(staff, signal_id, "close", rationale="已排除"))
    done(post(staff, signal_id, "reopen", rationale="新增三例"))
    with world.app_context():
        signal = db.session.get(Signal, signal_id)
        assert signal.status == "new" and signal.validated_at is None
        assert signal.validation_due_on == TODAY + timedelta(days=30)
    log = page(staff, f"/staff/signals/{signal_id}")
    assert ">排除<" in log and ">重新打开<" in log and "新增三例" in log
    assert 'id="signal-decision"' not in log  # awaiting validation anew


def test_a_refuted_then_closed_signal_shows_refuted_and_a_newer_signal_blocks_reopening(
    world, staff
):
    signal_id = add_signal(world, "复方丹参片", 83000005)
    done(post(staff, signal_id, "refute", rationale="与原发病相关"))
    done(post(staff, signal_id, "close", rationale="已排除"))
    shown = page(staff, f"/staff/signals/{signal_id}?lang=en")
    page(staff, "/staff/signals?lang=zh_CN")
    assert '<dt>Refuted</dt><dd id="signal-decision">' in shown
    assert "<dt>Validated</dt>" not in shown
    newer = add_signal(world, "复方丹参片", 83000005)  # detection raised the pair anew
    response = post(staff, signal_id, "reopen", rationale="新增三例")
    assert response.status_code == 422 and f"#{newer}" in response.get_data(as_text=True)
    assert "新增三例" in response.get_data(as_text=True) and status_of(world, signal_id) == "closed"


def test_a_validated_signal_is_due_for_evaluation_and_overdue_once_past(world, staff):
    signal_id = add_signal(world, "复方丹参片", 83000006)
    done(post(staff, signal_id, "validate", rationale="时间关联明确"))
    with world.app_context(), write_transaction() as session:
        signal = session.get(Signal, signal_id)
        assert signal.evaluation_due_on == TODAY + timedelta(days=60)  # medium, until prioritised
        signal.evaluation_due_on = TODAY - timedelta(days=1)  # sixty days later
    board = page(staff, "/staff/")
    tile = board[board.index('id="signals-overdue-tile"') :][:400]
    assert "评价1" in tile.replace(" ", "") or "evaluation 1" in tile, tile
    assert f'href="/staff/signals/{signal_id}"' in page(staff, "/staff/signals?overdue=1")


@pytest.mark.parametrize(
    ("step", "fields", "status", "kept"),
    [
        ("close", {"rationale": "太早了"}, 422, "太早了"),
        ("prioritise", {"priority": "high", "rationale": "优先"}, 422, "优先"),
        ("validate", {"rationale": "  "}, 422, None),
        ("nonsense", {"rationale": "随便"}, 422, None),
    ],
)
def test_illegal_steps_and_bad_input_are_refused_with_values_kept(
    world, staff, step, fields, status, kept
):
    signal_id = world.config["shock"]
    response = post(staff, signal_id, step, **fields)
    assert response.status_code == status
    shown = response.get_data(as_text=True)
    assert 'role="alert"' in shown and (kept is None or kept in shown)
    assert status_of(world, signal_id) == "new"


def test_a_step_refused_keeps_its_values_and_a_stale_form_is_refused(world, staff):
    signal_id = add_signal(world, "复方丹参片", 83000005)
    done(post(staff, signal_id, "validate", rationale="<script>alert(1)</script>"))
    shown = page(staff, f"/staff/signals/{signal_id}")
    assert "<script>alert(1)" not in shown and "&lt;script&gt;alert(1)" in shown
    past = (TODAY - timedelta(days=1)).isoformat()
    refused = post(staff, signal_id, "prioritise", priority="low", rationale="低", due_on=past)
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert f'value="{past}"' in text and ">低</textarea>" in text and 'value="low" checked' in text
    assert 'aria-invalid="true"' in text
    inputs = hidden_inputs(page(staff, f"/staff/signals/{signal_id}"))
    done(post(staff, signal_id, "prioritise", priority="low", rationale="低"))
    stale = staff.post(
        f"/staff/signals/{signal_id}",
        data={**inputs, "step": "prioritise", "priority": "high", "rationale": "高"},
    )
    assert stale.status_code == 409 and ">高</blockquote>" in stale.get_data(as_text=True)
    with world.app_context():
        signal = db.session.get(Signal, signal_id)
        assert signal.priority == "low" and signal.evaluation_due_on == TODAY + timedelta(90)
    done(post(staff, signal_id, "evaluate", assessment="需随访", conclusion="more_data"))
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    done(post(staff, signal_id, "action", kind="study", description="研究", due_on=tomorrow))
    action = hidden_inputs(page(staff, f"/staff/signals/{signal_id}"))["action"]
    future = post(staff, signal_id, "complete", action=action, completed_on=tomorrow, note="提前")
    assert future.status_code == 422 and "提前" in future.get_data(as_text=True)
    assert post(staff, signal_id, "close", rationale="结束").status_code == 422  # action open


def test_signal_pages_are_for_signed_in_staff_only_and_forms_need_their_token(world, staff):
    anonymous = world.test_client()
    for path in ("/staff/signals", "/staff/signals/1", "/staff/signals/log.xlsx"):
        response = anonymous.get(path)
        assert response.status_code == 302 and "/login" in response.location
    response = anonymous.post("/staff/signals/1", data={"step": "validate", "rationale": "x"})
    assert response.status_code in (302, 400)
    without_token = staff.post(
        f"/staff/signals/{world.config['shock']}",
        data={"step": "validate", "rationale": "x", "seen": "999"},
    )
    assert without_token.status_code == 400
    assert status_of(world, world.config["shock"]) == "new"


def test_chinese_signal_pages_carry_only_the_terms_a_pv_officer_reads_in_latin(world, staff):
    allowed = LATIN_ON_CHINESE_PAGES | {"MedDRA", "PT", "SOC", "PRR", "ROR", "IC", "IC025", "CI"}
    allowed |= {"xlsx", REVIEWER.split("@")[0]}
    for path in ("/staff/signals", f"/staff/signals/{world.config['late']}", "/staff/"):
        shown = re.sub(r"ADR-\d{6}-[0-9A-Z]{6}", "", page(staff, path))
        assert latin_words(shown) <= allowed, path
