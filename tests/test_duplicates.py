"""Duplicate candidates: the matcher's rules, its quality on a planted corpus, the case page."""

from __future__ import annotations

import re
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from adr import demo, duplicates, regulatory
from adr.cases import corrections
from adr.extensions import db
from adr.models import AuditEntry, Case, Drug, DuplicateCandidate, DuplicateKey, Report
from bench.duplicates import measure, plant
from tests.conftest import hidden_inputs
from tests.test_cases import enter as enter_by_staff
from tests.test_cases import entered, phone_call, submit
from tests.test_review import REVIEWER, csrf, signed_in, stored

TODAY = regulatory.china_today()


# The rules, without a database.


@pytest.mark.parametrize(
    ("first", "second", "verdict"),
    [
        ("王小明", "王小明", "agrees"),
        ("王小明", "王晓明", "nearly"),  # heard by phone
        ("王小明", "WXM", "nearly"),
        ("王小明", "w.x.m.", "nearly"),
        ("王小明", "Wang Xiaoming", "nearly"),
        ("王小明", "王明", "nearly"),  # a character left out
        ("张某某", "张三", "nearly"),  # a name withheld
        ("王小明", "李小明", "differs"),
        ("王小明", "ZXM", "differs"),
        ("Mary Smith", "Mary Smyth", "nearly"),
        ("Mary Smith", "John Brown", "differs"),
        ("王小明", None, "unknown"),  # a name on one side only sinks nothing
        ("王小明", "不详", "unknown"),
    ],
)
def test_names_compare_as_a_person_hears_and_writes_them(first, second, verdict):
    assert duplicates.compare_names(first, second) == verdict
    assert duplicates.compare_names(second, first) == verdict


def record(**fields):
    values = {
        "patient_name": "王小明",
        "patient_sex": "male",
        "patient_birth_date": None,
        "patient_age": 45,
        "patient_age_unit": "year",
        "event_name": "皮疹、瘙痒",
        "event_description": None,
        "event_onset_date": date(2026, 11, 21),
        "drugs": [
            SimpleNamespace(
                role="suspect",
                approval_number="国药准字H61020123",
                brand_name="天宁",
                generic_name="阿莫西林胶囊",
                batch_number="20260315A",
            )
        ],
    }
    return SimpleNamespace(**(values | fields))


def test_the_same_case_told_again_scores_above_the_threshold_and_near_misses_below(app):
    threshold = app.config["DUPLICATE_THRESHOLD"]
    told_again = record(
        patient_name="WXM",
        patient_age=46,
        event_name="全身皮疹伴瘙痒",
        event_onset_date=date(2026, 11, 22),
    )
    assert duplicates.compare(record(), told_again).score >= threshold
    assert duplicates.compare(record(), record(patient_name=None)).score >= threshold
    other_reaction = record(event_name="恶心、呕吐")
    other_sex = record(patient_sex="female")
    other_age = record(patient_age=70)
    other_patient = record(patient_name="李芳", patient_sex="female", patient_age=30)
    for near_miss in (other_reaction, other_sex, other_age, other_patient):
        assert duplicates.compare(record(), near_miss).score < threshold


@pytest.mark.postgresql_only
def test_a_report_proposing_a_case_is_stored_while_a_writer_holds_the_case(app):
    """A writer of a case (a follow-up, an assessment) holds its row FOR NO KEY UPDATE: a new
    report naming the case as its duplicate candidate (its foreign key a key-share lock) is
    not kept waiting, so it never waits there while holding its products, which that writer
    may want next."""
    import threading

    from adr.cases import clock
    from adr.models import write_transaction

    first = submit(app)
    stored: list[str] = []
    with app.app_context(), write_transaction() as session:
        case_id = session.scalar(sa.select(Report.case_id).where(Report.reference == first))
        clock.lock(session, case_id)
        second = threading.Thread(target=lambda: stored.append(submit(app)))
        second.start()
        second.join(10)  # stored meanwhile
        held = second.is_alive()
    second.join(10)
    assert not held and len(stored) == 1
    with app.app_context():
        pairs = db.session.scalars(sa.select(DuplicateCandidate.candidate_case_id)).all()
        assert pairs == [case_id]


def test_chinese_reactions_compare_by_characters_and_their_pairs():
    same = duplicates.dice(
        duplicates.reaction_grams("皮疹、瘙痒"), duplicates.reaction_grams("瘙痒,皮疹")
    )
    reworded = duplicates.dice(
        duplicates.reaction_grams("皮疹、瘙痒"), duplicates.reaction_grams("全身皮疹伴瘙痒")
    )
    other = duplicates.dice(duplicates.reaction_grams("皮疹"), duplicates.reaction_grams("恶心"))
    assert same == 1.0 and 0.5 <= reworded < 1.0 and other == 0.0


# Quality on a planted corpus.


def test_precision_and_recall_on_a_planted_corpus_meet_the_targets(app):
    with app.app_context():
        month = f"{TODAY.replace(day=1) - timedelta(days=1):%Y-%m}"
        demo.make_demo_data(2000, month, seed=7)
        planted = plant(seed=11, per_kind=25)
        quality = measure(planted)
    assert len(planted) >= 200 and sum(p.duplicate for p in planted) >= 100
    assert quality.recall >= 0.9, quality
    assert quality.precision >= 0.8, quality


def scored_afresh(report: Report, at_least: float) -> list[tuple[int, float, dict[str, str]]]:
    """Score a new report as the matcher did before it kept profiles: every report sharing a
    blocking key read, the newest kept, each profiled from the report as loaded."""
    _statement, params = duplicates.retrieval(report)
    window = (params["start"], params["end"]) if "start" in params else None
    ids: set[int] = set()
    if "batches" in params:
        same_batch = sa.select(Drug.report_id).join(Report, Report.id == Drug.report_id)
        same_batch = same_batch.where(Drug.batch_number.in_(params["batches"]))
        if window:
            onset = Report.event_onset_date
            same_batch = same_batch.where(sa.or_(onset.between(*window), onset.is_(None)))
        ids |= set(db.session.scalars(same_batch))
    if "birth" in params:
        ids |= set(
            db.session.scalars(
                sa.select(Report.id).where(Report.patient_birth_date == params["birth"])
            )
        )
    if "keys" in params:
        shared = sa.select(DuplicateKey.report_id).where(DuplicateKey.key.in_(params["keys"]))
        if window:
            shared = shared.where(DuplicateKey.onset.between(*window))
        ids |= set(db.session.scalars(shared))
    newest = sorted(ids, reverse=True)[: duplicates.RETRIEVED_AT_MOST]
    earlier = db.session.scalars(
        sa.select(Report)
        .join(Case, Case.id == Report.case_id)
        .where(Report.id.in_(newest), Case.status != "duplicate")
        .options(selectinload(Report.drugs))
    )
    best: dict[int, duplicates.Comparison] = {}
    for other in earlier:
        comparison = duplicates.compare(report, other)
        if other.case_id not in best or comparison.score > best[other.case_id].score:
            best[other.case_id] = comparison
    kept = sorted(
        ((case_id, c) for case_id, c in best.items() if c.score >= at_least),
        key=lambda item: (-item[1].score, -item[0]),
    )
    return [(case_id, c.score, c.verdicts) for case_id, c in kept[: duplicates.PROPOSED_AT_MOST]]


def test_kept_profiles_and_the_newest_of_each_key_score_as_every_report_read_afresh(
    app, monkeypatch
):
    """The matcher keeps earlier reports' profiles by their values and reads only the newest
    of each blocking key; what it proposes is what scoring every report afresh proposes,
    after a correction too (a few earlier reports kept, so that the limit bites)."""
    monkeypatch.setattr(duplicates, "RETRIEVED_AT_MOST", 4)
    duplicates.retrieval_statement.cache_clear()
    with app.test_request_context():
        month = f"{TODAY.replace(day=1) - timedelta(days=1):%Y-%m}"
        demo.make_demo_data(250, month, seed=3)
        planted = plant(seed=5, per_kind=2)

        def both_ways() -> None:
            for item in planted:
                for at_least in (app.config["DUPLICATE_THRESHOLD"], -100.0):
                    found = duplicates.find_candidates(item.report, at_least)
                    fast = [(f.case_id, f.comparison.score, f.comparison.verdicts) for f in found]
                    assert fast == scored_afresh(item.report, at_least)
                db.session.rollback()

        both_ways()
        originals = db.session.scalars(
            sa.select(Report).where(Report.case_id.in_({i.original_case_id for i in planted}))
        ).all()
        for number, original in enumerate(originals[:6]):
            field, value = [("patient-name", "赵六"), ("event-name", "头痛"),
                            ("patient-sex", "female")][number % 3]  # fmt: skip
            if getattr(original, field.replace("-", "_")) != value:
                corrections.correct(original, field, [value], "回访更正", "staff@example.com")
        both_ways()
    duplicates.retrieval_statement.cache_clear()


# The matcher as reports arrive, and the case page.


def web_report_of_a_patient() -> dict[str, object]:
    return {
        "patient-name": "王小明",
        "patient-sex": "male",
        "patient-birth_date": "1980-05-02",
        "patient-age": "46",
        "drugs-0-batch_number": "20261101B",
        "event-name": "皮疹、瘙痒",
        "event-onset_date": (TODAY - timedelta(days=6)).isoformat(),
    }


def phone_report_of_the_same_patient(**fields: object) -> dict[str, object]:
    """What staff type when a relative calls about the same rash: initials, another batch read."""
    return phone_call(
        **{
            "reporter-name": "王小明家属",
            "patient-name": "WXM",
            "patient-sex": "male",
            "patient-age": "46",
            "drugs-0-generic_name": "阿莫西林胶囊",
            "drugs-0-batch_number": "20261101B",
            "event-name": "全身皮疹伴瘙痒",
            "event-serious": [],
            "event-onset_date": (TODAY - timedelta(days=5)).isoformat(),
        }
        | fields
    )


def section(page: str) -> str:
    match = re.search(r'<section class="card" id="duplicate-candidates".*?</section>', page, re.S)
    assert match, "no duplicate section"
    return match.group(0)


def proposed(page: str) -> dict[str, str]:
    """Return the references on the duplicate section, with their decisions."""
    found = re.findall(r'data-reference="([^"]+)" data-decision="([^"]+)"', section(page))
    return dict(found)


def reviewer(app):
    from adr import accounts

    with app.app_context():
        accounts.create_user(REVIEWER, "审核员", "reviewer", "correct horse battery", "test")
    return signed_in(app, REVIEWER)


def test_a_phone_report_gets_the_earlier_web_report_proposed_side_by_side(app):
    client = reviewer(app)
    web = submit(app, web_report_of_a_patient())
    unrelated = submit(app, {"patient-name": "李芳", "patient-sex": "female", "patient-age": "30",
                             "patient-birth_date": ""})  # fmt: skip
    phone = entered(enter_by_staff(client, phone_report_of_the_same_patient()))
    page = client.get(f"/staff/reports/{phone}").get_data(as_text=True)
    assert proposed(page) == {web: "none"}
    assert unrelated not in section(page)
    shown = section(page)
    assert "WXM" in shown and "王小明" in shown and "全身皮疹伴瘙痒" in shown
    assert 'data-field-verdict="nearly"' in shown and 'data-field-verdict="agrees"' in shown
    # The earlier case shows the later one too.
    earlier = client.get(f"/staff/reports/{web}").get_data(as_text=True)
    assert proposed(earlier) == {phone: "none"}
    with app.app_context():
        pair = db.session.scalar(sa.select(DuplicateCandidate))
        assert pair.case_id == stored(app, phone).case_id
        assert pair.candidate_case_id == stored(app, web).case_id
        assert {"name", "sex", "product", "batch", "onset", "reaction"} <= set(pair.matched)


def test_a_case_marked_a_duplicate_that_kept_its_reports_is_never_proposed(app):
    """A ring of duplicates the merge migration left for staff (0016) keeps its reports in a
    case marked a duplicate: the status copied onto them keeps them out of the search."""
    marked = submit(app, web_report_of_a_patient())
    kept = submit(app, web_report_of_a_patient() | {"patient-name": "WXM"})
    with app.app_context():
        case = db.session.get(Case, stored(app, marked).case_id)
        case.status = "duplicate"
        db.session.commit()
        db.session.execute(sa.delete(DuplicateCandidate))
        db.session.commit()
    later = submit(app, web_report_of_a_patient())
    with app.app_context():
        pairs = db.session.execute(
            sa.select(DuplicateCandidate.case_id, DuplicateCandidate.candidate_case_id)
        ).all()
        assert pairs == [(stored(app, later).case_id, stored(app, kept).case_id)]


def decide(client, reference: str, other: str, decision: str):
    page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    token = hidden_inputs(page)["csrf_token"]
    return client.post(
        f"/staff/reports/{reference}/duplicates/{other}",
        data={"decision": decision, "csrf_token": token},
    )


def test_not_a_duplicate_is_audited_and_never_proposed_again(app):
    client = reviewer(app)
    web = submit(app, web_report_of_a_patient())
    phone = entered(enter_by_staff(client, phone_report_of_the_same_patient()))
    assert decide(client, phone, web, "not_duplicate").status_code == 303
    # A follow-up of each case and another new report of the patient.
    entered(
        enter_by_staff(
            client, {"case-source": "phone", "case-awareness_date": TODAY.isoformat(),
                     "event-outcome": "recovered"}, phone,
        )
    )  # fmt: skip
    submit(app, web_report_of_a_patient() | {"follow_up_of": web, "event-outcome": "recovered"})
    third = entered(enter_by_staff(client, phone_report_of_the_same_patient()))
    page = client.get(f"/staff/reports/{phone}").get_data(as_text=True)
    assert proposed(page)[web] == "not_duplicate"
    assert (
        'value="not_duplicate"'
        not in section(page).split(f'data-reference="{web}"')[1].split("</article>")[0]
    )
    with app.app_context():
        pairs = db.session.scalars(sa.select(DuplicateCandidate)).all()
        web_case, phone_case = stored(app, web).case_id, stored(app, phone).case_id
        assert [p for p in pairs if {p.case_id, p.candidate_case_id} == {web_case, phone_case}]
        assert len(pairs) == 3  # the third report found both earlier cases: no pair twice
        entries = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "not a duplicate")
        ).all()
        assert {(e.actor, e.field, e.new_value) for e in entries} == {
            (REVIEWER, "not_duplicate_of", web),
            (REVIEWER, "not_duplicate_of", phone),
        }
    assert third in proposed(page)  # the later case points at this one
    # Asking again is refused, and nothing changes.
    assert decide(client, phone, web, "duplicate").status_code == 303
    assert stored(app, phone).case.status != "duplicate"


def test_marking_a_duplicate_goes_through_the_assessment_and_is_audited(app):
    client = reviewer(app)
    web = submit(app, web_report_of_a_patient())
    phone = entered(enter_by_staff(client, phone_report_of_the_same_patient()))
    response = decide(client, phone, web, "duplicate")
    assert response.status_code == 303 and response.location.endswith(
        f"/staff/reports/{phone}#duplicate-candidates"
    )
    assert stored(app, phone).case_id == stored(app, web).case_id  # merged into the original
    page = client.get(f"/staff/reports/{web}").get_data(as_text=True)
    assert 'id="merges"' in page and phone in page.split('id="merges"')[1]
    with app.app_context():
        pair = db.session.scalar(sa.select(DuplicateCandidate))
        assert (pair.decision, pair.decided_by) == ("duplicate", REVIEWER)
        emptied = db.session.get(Case, pair.case_id)
        assert emptied.status == "duplicate" and emptied.duplicate_of_id == pair.candidate_case_id
        assert emptied.reports == []
        changes = {
            (e.field, e.new_value)
            for e in db.session.scalars(
                sa.select(AuditEntry).where(AuditEntry.action == "assessment")
            )
        }
    assert ("status", "duplicate") in changes
    assert ("duplicate_of", web) in changes


def test_the_assessment_rules_still_apply(app):
    client = reviewer(app)
    web = submit(app, web_report_of_a_patient())
    phone = entered(enter_by_staff(client, phone_report_of_the_same_patient()))
    with app.app_context():
        case = stored(app, web).case
        db.session.get(type(case), case.id).status = "submitted"  # sent to the regulator
        db.session.commit()
    response = decide(client, web, phone, "duplicate")
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert stored(app, web).case.status == "submitted"
    assert proposed(page) == {phone: "none"} and 'class="notice"' in page


@pytest.mark.parametrize(
    "posted",
    [
        {"decision": "maybe"},
        {"decision": ""},
        {},
        {"decision": "duplicate" * 1000},
    ],
)
def test_a_bad_post_gets_a_message_never_an_error(app, posted):
    client = reviewer(app)
    web = submit(app, web_report_of_a_patient())
    phone = entered(enter_by_staff(client, phone_report_of_the_same_patient()))
    token = csrf(client)
    response = client.post(
        f"/staff/reports/{phone}/duplicates/{web}", data=posted | {"csrf_token": token}
    )
    assert response.status_code == 303
    assert stored(app, phone).case.status == "received"
    for path in (
        f"/staff/reports/{phone}/duplicates/ADR-000000-XXXXXX",
        f"/staff/reports/{phone}/duplicates/nonsense",
        f"/staff/reports/{phone}/duplicates/{phone}",  # not a pair
    ):
        assert (
            client.post(path, data={"decision": "duplicate", "csrf_token": token}).status_code
            == 404
        )


def test_deciding_needs_a_signed_in_reviewer(app):
    web = submit(app, web_report_of_a_patient())
    other = submit(app, web_report_of_a_patient())
    client = app.test_client()
    response = client.post(
        f"/staff/reports/{other}/duplicates/{web}", data={"decision": "duplicate"}
    )
    assert response.status_code in (302, 400)  # to the sign-in, or refused without a token
    anonymous = client.get(f"/staff/reports/{other}")
    assert anonymous.status_code == 302 and "/login" in anonymous.location
    assert stored(app, other).case.status == "received"


def test_every_report_stored_gets_its_blocking_keys(app):
    reference = submit(app, web_report_of_a_patient())
    with app.app_context():
        report_id = db.session.scalar(sa.select(Report.id).where(Report.reference == reference))
        keys = set(
            db.session.scalars(
                sa.select(DuplicateKey.key).where(DuplicateKey.report_id == report_id)
            )
        )
    assert {"nwxm", "pm46"} <= keys


def test_the_read_leaves_out_the_patients_no_score_could_reach(app):
    """Among the newest reports sharing a key, those of the other sex, or of another birth date
    or age as `compare_ages` reads them, score below the threshold whatever else agrees: the
    read leaves them out (in a scare, most of a batch's newest), and keeps them at a threshold
    they could reach. Ages are compared in SQL from the birth date at onset, or the age typed
    in its unit."""
    earlier = {  # one batch, one onset; the new report: a man born 1980-05-02, 46.6 at onset
        "same": {},
        "other sex": {"patient-sex": "female"},
        "sex not known": {"patient-sex": "unknown"},
        "other birth date": {"patient-birth_date": "1981-05-02"},
        "age 46": {"patient-birth_date": "", "patient-age": "46"},
        "age 49": {"patient-birth_date": "", "patient-age": "49"},
        "560 months": {"patient-birth_date": "", "patient-age": "560", "patient-age_unit": "month"},
        "no age": {"patient-birth_date": "", "patient-age": ""},
    }
    cases = {
        name: stored(app, submit(app, web_report_of_a_patient() | fields)).case_id
        for name, fields in earlier.items()
    }
    onset = TODAY - timedelta(days=6)
    born, aged = (
        Report(
            patient_sex="male",
            event_onset_date=onset,
            drugs=[Drug(role="suspect", batch_number="20261101B")],
            **fields,
        )
        for fields in (
            {"patient_birth_date": date(1980, 5, 2)},
            {"patient_age": 46, "patient_age_unit": "year"},
        )
    )
    with app.app_context():

        def read(report: Report, limit: float) -> set[str]:
            rows = duplicates.earlier_rows(duplicates.retrieval(report, limit))
            ids = {case_id for case_id, _ in duplicates.earlier_profiles(rows)}
            return {name for name, case_id in cases.items() if case_id in ids}

        threshold = app.config["DUPLICATE_THRESHOLD"]
        assert read(born, threshold) == {"same", "sex not known", "age 46", "560 months", "no age"}
        assert read(aged, threshold) == {  # 45.6 at onset from that birth date
            "same", "sex not known", "other birth date", "age 46", "560 months", "no age"
        }  # fmt: skip
        assert read(born, -100.0) == read(aged, -100.0) == set(earlier)
        reports = db.session.scalars(
            sa.select(Report)
            .where(Report.case_id.in_(cases.values()))
            .options(selectinload(Report.drugs))
        )
        profiles = {report.case_id: duplicates.profile(report) for report in reports}
        for new in (born, aged):  # what the read leaves out is what the matcher passes over
            passed_over = {
                name
                for name, case_id in cases.items()
                if duplicates.out_of_reach(duplicates.profile(new), profiles[case_id], threshold)
            }
            assert passed_over == set(earlier) - read(new, threshold)


def test_sex_and_age_find_the_reports_naming_nobody_and_a_named_one_by_its_name(app):
    unnamed = {"patient-birth_date": "", "drugs-0-batch_number": ""}  # no batch or birth date
    nobody = submit(app, web_report_of_a_patient() | unnamed | {"patient-name": "不详"})
    other = submit(app, web_report_of_a_patient() | unnamed | {"patient-name": "李芳"})
    with app.app_context():

        def found(name: str | None) -> set[int]:
            report = Report(
                patient_name=name,
                patient_sex="male",
                patient_age=46,
                patient_age_unit="year",
                event_onset_date=TODAY - timedelta(days=5),
            )
            query = duplicates.retrieval(report)
            assert query is not None
            rows = duplicates.earlier_rows(query)
            return {case_id for case_id, _ in duplicates.earlier_profiles(rows)}

        nobody_case, other_case = stored(app, nobody).case_id, stored(app, other).case_id
        assert found("王小明") == {nobody_case}  # 李芳 is found by the name, not by sex and age
        assert found(None) == {nobody_case, other_case}
