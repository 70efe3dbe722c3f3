"""Signal detection: the figures of a 2×2 table, a planted disproportion and burst found and
stored, the qualitative triggers of cases entered and coded by staff, joining an open signal, a
refuted pair raised again only on news, and `adr signals run`."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from scipy import stats

from adr import meddra, regulatory
from adr.extensions import db
from adr.models import (
    AuditEntry,
    Case,
    DesignatedMedicalEvent,
    Product,
    Reaction,
    Report,
    Signal,
    SignalCase,
    SignalFigure,
    SignalRun,
    SignalStep,
)
from adr.signals import detection, statistics
from tests.conftest import COMPANY, hidden_inputs
from tests.meddra_fixture import ANAPHYLACTIC_SHOCK, PRURITUS, RASH, VERSION, write_release
from tests.signal_cases import Planted, insert_cases
from tests.test_coding import post, reaction_named
from tests.test_review import REVIEWER, signed_in, staff, submit  # noqa: F401

HEADACHE, DIZZINESS = 83000008, 83000007


def figures(a, b, c, d) -> dict[str, float | None]:
    found = statistics.disproportion([a], [b], [c], [d])
    names = ("prr", "chi2", "ror", "ror_lower", "ror_upper", "ic", "ic025")
    return {name: statistics.value(getattr(found, name)[0]) for name in names}


@pytest.mark.sqlite_only
@pytest.mark.empty_database
def test_each_figure_of_a_hand_computed_table():
    # a = 6, b = 94 (the product's 100 cases), c = 10, d = 890 (the others' 900); N = 1000.
    found = figures(6, 94, 10, 890)
    # PRR = (6/100) / (10/900) = 0.06 / 0.01111… = 5.4
    assert found["prr"] == pytest.approx(5.4)
    # Yates: N (|ad − bc| − N/2)² / ((a+b)(c+d)(a+c)(b+d))
    #      = 1000 (|5340 − 940| − 500)² / (100 · 900 · 16 · 984) = 1000 · 3900² / 1,416,960,000
    assert found["chi2"] == pytest.approx(1000 * 3900**2 / 1_416_960_000)  # 10.734
    assert found["chi2"] == pytest.approx(
        stats.chi2_contingency([[6, 94], [10, 890]], correction=True).statistic
    )
    # ROR = ad/bc = 5340/940 = 5.6809; s = √(1/6 + 1/94 + 1/10 + 1/890) = 0.52766;
    # CI = exp(ln 5.6809 ± 1.96 · 0.52766) = exp(1.7371 ± 1.0342) = 2.0197 … 15.979
    assert found["ror"] == pytest.approx(5340 / 940)
    assert found["ror_lower"] == pytest.approx(2.0197, abs=1e-3)
    assert found["ror_upper"] == pytest.approx(15.979, abs=1e-2)
    # E = (a+b)(a+c)/N = 100 · 16 / 1000 = 1.6; IC = log2(6.5 / 2.1) = 1.6301
    assert found["ic"] == pytest.approx(math.log2(6.5 / 2.1))
    # IC025: the gamma(6.5, rate 2.1) 2.5 % quantile is χ²(13 df) at 0.025 / (2 · 2.1); the
    # printed χ² table gives 5.009 for 13 degrees of freedom: log2(5.009 / 4.2) = 0.2541.
    assert found["ic025"] == pytest.approx(math.log2(5.009 / 4.2), abs=1e-3)
    raised = statistics.disproportion([6, 2], [94, 98], [10, 10], [890, 890])
    assert list(raised.prr_raised) == [True, False]  # a = 2 < 3: no test raises
    assert list(raised.ror_raised) == list(raised.ic_raised) == [True, False]


@pytest.mark.sqlite_only
@pytest.mark.empty_database
def test_published_worked_examples():
    """χ²: Smith, Morrow & Ross (eds), *Field Trials of Health Interventions* (3rd ed., OUP 2015,
    open access), ch. 21 "Methods of analysis", p. 372: 90 of 300 against 135 of 300,
    E(a) = 225 · 300 / 600 = 112.50, V(a) = 35.215, χ² = (|90 − 112.5| − 0.5)² / 35.215 = 13.74:
    the continuity-corrected statistic with the Mantel-Haenszel variance, which is Pearson's
    Yates-corrected χ² times (N − 1)/N.

    IC025: WHO-UMC's shrinkage (+0.5) and gamma credibility interval (Norén, Hopstadius & Bate
    2013, as the `pvda` R package documents it) cannot put IC025 above 0 with fewer than three
    cases, however small the expected count: three are needed, as the Evans criteria ask.
    """
    chi2 = figures(90, 210, 135, 165)["chi2"]
    assert chi2 * 599 / 600 == pytest.approx(13.74, abs=0.005)
    assert figures(2, 0, 0, 10**9)["ic025"] < 0 < figures(3, 0, 0, 10**9)["ic025"]


@pytest.mark.sqlite_only
@pytest.mark.empty_database
def test_a_zero_cell_leaves_figures_undefined_and_the_trend_reads_no_history_as_an_excess():
    undefined = figures(3, 0, 0, 100)  # every case with the PT is the product's
    assert undefined["prr"] is None and undefined["ror"] is None
    assert undefined["ror_lower"] is None and undefined["ror_upper"] is None
    # χ² stays defined: N (|ad − bc| − N/2)² / (3 · 100 · 3 · 100) = 103 · 248.5² / 90,000
    assert undefined["chi2"] == pytest.approx(103 * 248.5**2 / 90_000)
    assert all(value is None for value in figures(0, 0, 0, 0).values())
    # k = 3 after four empty periods: P(X ≥ 3 | μ = 0) = 0; k = 3 against μ = 1:
    # 1 − e⁻¹(1 + 1 + 1/2) = 0.0803; k = 6 against μ = 1: 0.000594; k = 2: never.
    excess = statistics.trend([3, 3, 6, 2], [0, 4, 4, 0])
    assert list(excess.baseline) == [0, 1, 1, 0]
    assert excess.poisson_p[1] == pytest.approx(1 - math.exp(-1) * 2.5)
    assert excess.poisson_p[2] == pytest.approx(0.000594, abs=1e-6)
    assert list(excess.raised) == [True, False, True, False]


@pytest.mark.sqlite_only
@pytest.mark.empty_database
def test_periods_are_months_and_quarters():
    assert detection.parse_period("2026-Q3") == detection.Period(
        "2026-Q3", date(2026, 7, 1), date(2026, 9, 30), 3
    )
    november = detection.parse_period("2026-11")
    assert (november.start, november.end, november.earlier(4)) == (
        date(2026, 11, 1),
        date(2026, 11, 30),
        date(2026, 7, 1),
    )
    assert detection.parse_period("2026-Q1").earlier(4) == date(2025, 1, 1)
    assert detection.last_complete_month(date(2027, 1, 15)).name == "2026-12"
    for wrong in ("2026-13", "2026-Q5", "2026-00", "26-11", "2026/11", "0999-01", "2999-01"):
        with pytest.raises(ValueError):
            detection.parse_period(wrong)


def month(before: int) -> date:
    """Return the first day of the month `before` months before this one (China dates)."""
    today = regulatory.china_today()
    index = today.year * 12 + today.month - 1 - before
    return date(index // 12, index % 12 + 1, 1)


def period(before: int) -> detection.Period:
    return detection.parse_period(f"{month(before):%Y-%m}")


def product(name: str, approval: str, listed: dict[str, int] | None = None) -> Product:
    return Product(
        generic_name=name,
        approval_number=approval,
        manufacturer=COMPANY,
        listed_reactions=list(listed or {}),
        listed_pt_codes=listed or {},
    )


def planted(app, tmp_path) -> tuple[int, int]:
    """Two products: A with rash out of proportion (9 of its 49 cases, 2 of B's 102), B with a
    burst of dizziness two months ago (7 cases, against 1 a month in the four before); and
    cases that must not count. Return the products' ids."""
    with app.app_context():
        meddra.import_release(write_release(tmp_path / "en", "en"), "test")
        a, b = (
            product("阿莫西林胶囊", "国药准字H61020123"),
            product("板蓝根颗粒", "国药准字Z61020456"),
        )
        db.session.add_all([a, b])
        db.session.commit()
        old, rash_month, burst = month(8), month(5), month(2)
        cases = [
            *[Planted(rash_month, [a.id], [RASH]) for _ in range(9)],
            *[Planted(old, [a.id], [HEADACHE]) for _ in range(40)],
            *[Planted(old, [b.id], [RASH]) for _ in range(2)],
            *[Planted(old, [b.id], [HEADACHE]) for _ in range(89)],
            *[Planted(month(before), [b.id], [DIZZINESS]) for before in (3, 4, 5, 6)],
            *[Planted(burst + timedelta(days=n), [b.id], [DIZZINESS]) for n in range(7)],
            # Left out: invalid, a duplicate, not a valid case.
            *[Planted(burst, [a.id], [RASH], status="invalid") for _ in range(3)],
            *[Planted(burst, [a.id], [RASH], status="duplicate") for _ in range(3)],
            *[Planted(burst, [a.id], [RASH], valid=False) for _ in range(3)],
        ]
        with db.engine.begin() as connection:
            insert_cases(connection, cases, VERSION)
        return a.id, b.id


def signal_of(product_id: int, pt_code: int) -> Signal:
    query = sa.select(Signal).where(Signal.product_id == product_id, Signal.pt_code == pt_code)
    return db.session.scalars(query.order_by(Signal.id.desc())).first()


def counts() -> tuple[int, ...]:
    return tuple(
        db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (Signal, SignalCase, SignalStep)
    )


def test_a_planted_disproportion_and_burst_are_found_stored_and_not_raised_twice(app, tmp_path):
    a, b = planted(app, tmp_path)
    with app.app_context():
        result = detection.run(period(2), "command")
        assert (result.opened, result.joined, result.cases) == (2, 0, 151)

        rash = db.session.scalar(
            sa.select(SignalFigure).where(
                SignalFigure.product_id == a, SignalFigure.pt_code == RASH
            )
        )
        assert (rash.a, rash.b, rash.c, rash.d) == (9, 40, 2, 100)  # N = 49 + 102 = 151
        assert rash.prr == pytest.approx((9 / 49) / (2 / 102))  # 9.37
        # N (|ad − bc| − N/2)² / ((a+b)(c+d)(a+c)(b+d)) = 151 (820 − 75.5)² / (49 · 102 · 11 · 140)
        assert rash.chi2 == pytest.approx(151 * 744.5**2 / (49 * 102 * 11 * 140))  # 10.87
        assert rash.ror == pytest.approx(900 / 80)
        assert rash.ror_lower > 1 and rash.ic025 > 0
        assert rash.triggers == ["prr", "ror", "ic"] and rash.period_count == 0

        burst = db.session.scalar(sa.select(SignalFigure).where(SignalFigure.pt_code == DIZZINESS))
        assert (burst.product_id, burst.period_count, burst.baseline) == (b, 7, 1.0)
        assert burst.poisson_p == pytest.approx(stats.poisson.sf(6, 1.0))  # P(X ≥ 7 | 1)
        assert burst.prr is None and burst.ror is None  # only B has dizziness: c = 0
        assert burst.triggers == ["trend"]

        signal = signal_of(a, RASH)
        assert (signal.status, signal.triggers, signal.latest_figure_id) == (
            "new",
            ["prr", "ror", "ic"],
            rash.id,
        )
        assert signal.validation_due_on == regulatory.china_today() + timedelta(days=30)
        assert [(case.trigger, case.case.death) for case in signal.cases] == [("prr", False)] * 9
        (detected,) = signal.steps
        assert (detected.step, detected.by) == ("detected", "command")
        assert {key: detected.detail[key] for key in "abcd"} == {"a": 9, "b": 40, "c": 2, "d": 100}
        assert [case.trigger for case in signal_of(b, DIZZINESS).cases] == ["trend"] * 7

        (entry,) = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "signals run")
        )
        assert (entry.actor, entry.field) == ("command", "signal")
        assert entry.new_value.startswith(
            f"{period(2).name}: 2 signals raised (2 opened, 0 joined)"
        )
        stored = db.session.scalar(sa.select(SignalRun))
        assert (stored.raised, stored.cases, stored.finished_at is not None) == (2, 151, True)

        before = counts()
        assert detection.run(period(2), "command").raised == 0
        assert counts() == before == (2, 16, 2)


def test_an_open_signal_is_joined_and_a_refuted_pair_is_raised_again_only_on_news(app, tmp_path):
    a, b = planted(app, tmp_path)
    with app.app_context():
        detection.run(period(2), "command")
        # A refutes the burst (the workflow's pages do this); a fatal rash case of A comes in.
        refuted = signal_of(b, DIZZINESS)
        refuted.status = "refuted"
        db.session.commit()
        with db.engine.begin() as connection:
            (fatal,) = insert_cases(
                connection, [Planted(month(1), [a], [RASH], serious=True, death=True)], VERSION
            )
        assert detection.run(period(2), "command").raised == 0  # the old period again: no news

        result = detection.run(period(1), "command")
        assert (result.opened, result.joined) == (0, 1)
        joined = signal_of(a, RASH)  # serious, and A's listed reactions are not coded: unlisted
        assert joined.triggers == ["prr", "ror", "ic", "fatal", "unlisted"]
        assert [(case.case_id, case.trigger) for case in joined.cases][-1] == (fatal, "fatal")
        step = joined.steps[-1]
        assert (step.step, step.detail["cases_added"], step.detail["new_triggers"]) == (
            "cases_added",
            1,
            ["fatal", "unlisted"],
        )
        assert joined.latest_figure.run_id == result.run_id and joined.latest_figure.a == 10

        # A new burst this month, after a month without: the refuted pair crosses anew.
        with db.engine.begin() as connection:
            insert_cases(connection, [Planted(month(0), [b], [DIZZINESS])] * 10, VERSION)
        result = detection.run(period(0), "command")
        assert result.opened == 1
        again = signal_of(b, DIZZINESS)
        assert again.id != refuted.id and again.status == "new" and len(again.cases) == 10
        assert again.steps[0].detail["raised_anew_by"] == ["trend"]
        assert again.steps[0].detail["previous_signal"] == refuted.id


def test_a_case_coded_late_or_made_fatal_later_is_raised_by_the_next_run(app, tmp_path):
    """Qualitative triggers come from every case not linked yet to a signal of its pair, known
    in the period or before it; a reaction staff set not serious raises no unlisted trigger."""
    with app.app_context():
        meddra.import_release(write_release(tmp_path / "en", "en"), "test")
        a = product("阿莫西林胶囊", "国药准字H61020123", {"瘙痒": PRURITUS})
        db.session.add(a)
        db.session.commit()
        with db.engine.begin() as connection:
            late, later, not_serious = insert_cases(
                connection,
                [
                    Planted(month(3), [a.id], [], serious=True, death=True),  # not coded yet
                    Planted(month(3), [a.id], [PRURITUS]),  # listed, not serious yet
                    Planted(month(3), [a.id], [HEADACHE], serious=True),
                ],
                VERSION,
            )
            connection.execute(
                sa.insert(Reaction).values(
                    case_id=late, position=1, reported_term="皮疹", language="chi"
                )
            )
            connection.execute(
                sa.update(Reaction).where(Reaction.case_id == not_serious).values(serious=[])
            )
        assert detection.run(period(3), "command").raised == 0
        with db.engine.begin() as connection:  # coded, and a follow-up tells of a death
            connection.execute(
                sa.update(Reaction)
                .where(Reaction.case_id == late)
                .values(meddra_version=VERSION, llt_code=RASH)
            )
            connection.execute(
                sa.update(Case).where(Case.id == later).values(serious=True, death=True)
            )
        assert detection.run(period(1), "command").opened == 2
        assert [(c.case_id, c.trigger) for c in signal_of(a.id, RASH).cases] == [(late, "fatal")]
        assert signal_of(a.id, PRURITUS).triggers == ["fatal"]  # listed: not unlisted
        assert signal_of(a.id, HEADACHE) is None
        signal_of(a.id, RASH).status = "refuted"
        db.session.commit()
        before = counts()
        assert detection.run(period(0), "command").raised == 0  # linked to a decided signal
        assert counts() == before


def test_cases_known_before_detection_began_do_not_come_back_as_a_backlog(app, tmp_path):
    """The first run screens its period's cases, not every past one; a run of an earlier period
    moves that start back."""
    with app.app_context():
        meddra.import_release(write_release(tmp_path / "en", "en"), "test")
        a = product("阿莫西林胶囊", "国药准字H61020123")
        db.session.add(a)
        db.session.commit()
        with db.engine.begin() as connection:
            insert_cases(connection, [Planted(month(8), [a.id], [RASH], True, True)], VERSION)
        assert detection.run(period(2), "command").raised == 0
        assert detection.run(period(8), "command").opened == 1
        assert signal_of(a.id, RASH).triggers == ["fatal", "unlisted"]


def code(client, reference: str, term: str, llt: int) -> None:
    reaction = reaction_named(client.application, reference, term)
    response = post(
        client, f"/staff/reports/{reference}/coding", {"reaction": reaction.id, "llt_code": llt}
    )
    assert response.status_code == 303


def test_fatal_unlisted_and_designated_cases_entered_by_staff_raise_from_the_command(
    staff,  # noqa: F811
    tmp_path,
):
    app = staff
    with app.app_context():
        meddra.import_release(write_release(tmp_path / "en", "en"), "test")
        db.session.add(product("阿莫西林胶囊", "国药准字H61020123", {"皮疹": RASH}))
        db.session.add(
            DesignatedMedicalEvent(
                pt_code=ANAPHYLACTIC_SHOCK, added_at=datetime.now(UTC), added_by=REVIEWER
            )
        )
        db.session.commit()
    death = {
        "event-outcome": "death",
        "event-death_cause": "过敏性休克",
        "event-death_date": "2026-11-22",
        "event-serious": ["death"],
    }
    fatal = submit(app, death)
    serious = submit(app, {"event-serious": ["hospitalization"]})
    shock = submit(app, {"event-name": "过敏性休克"})
    client = signed_in(app, REVIEWER)
    code(client, fatal, "皮疹", RASH)  # listed: fatal only
    code(client, serious, "皮疹", RASH)  # listed: nothing
    code(client, serious, "瘙痒", PRURITUS)  # serious and not listed
    code(client, shock, "过敏性休克", ANAPHYLACTIC_SHOCK)  # designated, not serious

    with app.app_context(), db.engine.begin() as connection:  # known last month: a run of
        connection.execute(sa.update(Report).values(aware_on=month(1)))  # an ended period
    runner = app.test_cli_runner()
    result = runner.invoke(args=["signals", "run", "--period", f"{month(1):%Y-%m}"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "signals raised: 3"
    with app.app_context():
        raised = {
            signal.pt_code: (signal.triggers, [case.trigger for case in signal.cases])
            for signal in db.session.scalars(sa.select(Signal))
        }
    assert raised == {
        RASH: (["fatal"], ["fatal"]),
        PRURITUS: (["unlisted"], ["unlisted"]),
        ANAPHYLACTIC_SHOCK: (["dme"], ["dme"]),
    }
    again = runner.invoke(args=["signals", "run", "--period", f"{month(1):%Y-%m}"])
    assert again.output.splitlines()[0] == "signals raised: 0"


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("2026-13", "not a period: '2026-13'"),
        ("2999-Q1", "the period 2999-Q1 has not begun"),
        (f"{month(0):%Y-%m}", f"the period {month(0):%Y-%m} has not ended"),
    ],
)
def test_a_malformed_period_exits_2_saying_how_to_write_it(app, given, said):
    result = app.test_cli_runner().invoke(args=["signals", "run", "--period", given])
    assert result.exit_code == 2 and said in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SignalRun)) == 0


def test_an_empty_database_runs_the_last_complete_month_and_raises_nothing(app):
    result = app.test_cli_runner().invoke(args=["signals", "run"])
    assert result.exit_code == 0, result.output
    first, second = result.output.splitlines()
    assert first == "signals raised: 0"
    assert second.startswith(f"{detection.last_complete_month().name}: 0 opened, 0 joined; 0 cases")


def test_detected_signals_are_listed_shown_with_their_table_and_validated_by_a_reviewer(
    app,
    tmp_path,
    staff,  # noqa: F811 - the fixture
):
    """The issue's story: a planted disproportion and a burst detected, listed with product
    and PT, shown with their 2×2 tables; a reviewer validates one and its log names them."""
    a, b = planted(app, tmp_path)
    with app.app_context():
        assert detection.run(period(2), "command").raised == 2
        rash, burst = signal_of(a, RASH).id, signal_of(b, DIZZINESS).id
    reviewer = signed_in(staff, REVIEWER)
    listed = reviewer.get("/staff/signals").get_data(as_text=True)
    for shown in (
        "阿莫西林胶囊",
        "国药准字H61020123",
        "Rash",
        str(RASH),
        "板蓝根颗粒",
        "Dizziness",
    ):
        assert shown in listed, shown
    page = reviewer.get(f"/staff/signals/{rash}").get_data(as_text=True)
    for cell in ("a = 9", "b = 40", "c = 2", "d = 100", ">49<", ">102<", ">151<", "9.37"):
        assert cell in page, cell
    page = reviewer.get(f"/staff/signals/{burst}").get_data(as_text=True)
    assert "a = 11" in page and "c = 0" in page  # 4 before the burst, 7 in it
    token = hidden_inputs(page)
    response = reviewer.post(
        f"/staff/signals/{burst}",
        data={
            "csrf_token": token["csrf_token"],
            "seen": token["seen"],
            "step": "validate",
            "rationale": "七例头晕集中于一个月",
        },
    )
    assert response.status_code == 303
    log = reviewer.get(f"/staff/signals/{burst}").get_data(as_text=True)
    log = log[log.index('id="tracking-log"') :]
    assert ">检出<" in log and ">确认<" in log and REVIEWER in log and "七例头晕" in log
