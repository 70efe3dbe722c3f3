"""A newer MedDRA release: codings move to it where their LLT is still current; the others wait
for a coder at /staff/coding/upgrade. And the designated medical events admins keep."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from adr import meddra
from adr.extensions import db
from adr.models import (
    AuditEntry,
    CaseDisease,
    DesignatedMedicalEvent,
    LabResult,
    Product,
    Reaction,
    Report,
    TermCoding,
    write_transaction,
)
from adr.regulator import e2b
from adr.signals import counted
from tests import meddra_fixture, test_e2b
from tests.meddra_fixture import ANAPHYLACTIC_SHOCK, HYPERTENSION, PRURITUS, RASH, write_release
from tests.test_coding import coded, english, post  # noqa: F401 - a fixture
from tests.test_review import ADMIN, REVIEWER, signed_in, staff, submit  # noqa: F401

SKIN_RASH, ITCHING, LFT_ABNORMAL, SHORTNESS = 84000001, 84000003, 84000006, 84000008
DYSPNOEA, NAUSEA, VOMITING = 83000015, 83000004, 83000005
NEW = "28.0"


def newer_release(folder, language: str = "en", version: str = NEW):
    """Write MedDRA 28.0: Itching no longer current, Shortness of breath gone, Rash renamed,
    Nausea no longer a PT (its LLTs moved to Vomiting)."""
    pts = {code: term for code, term in meddra_fixture.PTS.items() if code != NAUSEA}
    pts[RASH] = ("Skin eruption", "皮肤疹", pts[RASH][2])
    llts = {
        code: (*term[:2], VOMITING if term[2] == NAUSEA else term[2], term[3])
        for code, term in meddra_fixture.LLTS.items()
        if code != SHORTNESS
    }
    llts[ITCHING] = (*llts[ITCHING][:3], False)
    llts[RASH] = ("Skin eruption", "皮肤疹", RASH, True)
    return write_release(folder, language, version, pts, llts)


def first_report_id(reference: str) -> int:
    report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
    return report.case.first_report.id


def code_case(reference: str, itch_only: bool = False) -> int:
    """Code the case of `reference` in 27.1 as staff would have; return its id."""
    report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
    case = report.case
    now = datetime.now(UTC)
    with write_transaction() as session:
        for reaction in case.reactions:
            itch = reaction.reported_term == "瘙痒"
            if itch or not itch_only:
                reaction.meddra_version, reaction.coded_by = "27.1", "coder@tianning.example"
                reaction.llt_code = ITCHING if itch else SKIN_RASH
        if not itch_only:
            for kind, text, code in (
                ("indication", "高血压", HYPERTENSION),
                ("history", "气短", SHORTNESS),
            ):
                session.add(
                    TermCoding(
                        case_id=case.id,
                        kind=kind,
                        text=text,
                        meddra_version="27.1",
                        llt_code=code,
                        coded_by="coder@tianning.example",
                        coded_at=now,
                    )
                )
            session.add(
                CaseDisease(
                    case_id=case.id,
                    position=1,
                    name="头痛",
                    meddra_version="27.1",
                    llt_code=83000008,
                )
            )
            session.add(
                LabResult(
                    case_id=case.id,
                    position=1,
                    test_name="肝功能<检查>",
                    meddra_version="27.1",
                    llt_code=LFT_ABNORMAL,
                )
            )
    return case.id


def recoded_entries() -> list[AuditEntry]:
    return list(
        db.session.scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.action == "meddra recoded")
            .order_by(AuditEntry.id)
        )
    )


def versions_of(model, case_id: int) -> dict[int, str]:
    rows = db.session.execute(
        sa.select(model.llt_code, model.meddra_version).where(
            model.case_id == case_id, model.llt_code.is_not(None)
        )
    )
    return dict(rows.all())


@pytest.fixture
def upgraded(coded, tmp_path):  # noqa: F811 - the fixture imported above
    """Two coded cases, then MedDRA 28.0 imported: (app, references, case ids)."""
    first, second = submit(coded), submit(coded)
    with coded.app_context():
        ids = code_case(first), code_case(second, itch_only=True)
        db.session.add(
            Product(
                generic_name="板蓝根颗粒",
                approval_number="国药准字Z61021234",
                manufacturer="天宁",
                listed_reactions=["恶心", "Skin eruption", "瘙痒"],
                listed_pt_codes={"恶心": NAUSEA},
            )
        )
        db.session.commit()
    result = coded.test_cli_runner().invoke(
        args=["import-meddra", str(newer_release(tmp_path / "28"))]
    )
    assert result.exit_code == 0, result.output
    assert "4 coded terms recoded to 28.0 in 1 case" in result.output
    assert "1 listed reactions of the catalogue coded automatically" in result.output
    return coded, (first, second), ids


def test_a_newer_release_recodes_the_current_llts_and_audits_each_case_once(upgraded, tmp_path):
    app, (first, _second), (case_a, case_b) = upgraded
    with app.app_context():
        assert versions_of(Reaction, case_a) == {SKIN_RASH: NEW, ITCHING: "27.1"}
        assert versions_of(TermCoding, case_a) == {HYPERTENSION: NEW, SHORTNESS: "27.1"}
        assert versions_of(CaseDisease, case_a) == {83000008: NEW}
        assert versions_of(LabResult, case_a) == {LFT_ABNORMAL: NEW}
        assert versions_of(Reaction, case_b) == {ITCHING: "27.1"}
        itch = db.session.scalar(
            sa.select(Reaction).where(Reaction.case_id == case_a, Reaction.llt_code == ITCHING)
        )
        assert itch.coded_by == "coder@tianning.example"  # the coder's choice stands
        entries = recoded_entries()
        assert [(e.report_id, e.field, e.old_value, e.new_value, e.actor) for e in entries] == [
            (
                first_report_id(first),
                "meddra_version",
                "27.1",
                "28.0 (4 terms recoded)",
                "adr import-meddra",
            )
        ]
        # Signals count the newest PTs: a not-current LLT still maps to its PT in 28.0.
        pts = counted.case_pts(NEW)
        found = db.session.scalars(sa.select(pts.c.pt_code).where(pts.c.case_id == case_a))
        assert set(found) == {RASH, PRURITUS}

        # The renamed PT's new name codes the listed term; Nausea's code waits for staff.
        codes = db.session.scalar(sa.select(Product.listed_pt_codes))
        assert codes == {"恶心": NAUSEA, "Skin eruption": RASH}

        # Chinese names of the same version, then an older version: nothing recoded again.
        meddra.import_release(newer_release(tmp_path / "28zh", "zh"), "test")
        meddra.import_release(write_release(tmp_path / "26", "en", "26.1"), "test")
        assert meddra.current_version() == NEW
        assert len(recoded_entries()) == 1
        assert versions_of(Reaction, case_b) == {ITCHING: "27.1"}


def test_a_recoding_cut_short_is_finished_by_the_next_import(coded, tmp_path, monkeypatch):  # noqa: F811
    first, second = submit(coded), submit(coded)
    batches = []

    def crash_on_the_second(*args):
        if batches:
            raise OSError("the machine stopped")
        batches.append(recode_batch(*args))
        return batches[-1]

    recode_batch = meddra.recode_batch
    monkeypatch.setattr(meddra, "RECODE_BATCH", 1)
    monkeypatch.setattr(meddra, "recode_batch", crash_on_the_second)
    release = newer_release(tmp_path / "28")
    with coded.app_context():
        case_ids = code_case(first), code_case(second)
        with pytest.raises(OSError):
            meddra.import_release(release, "test")
        assert meddra.current_version() == NEW  # the release itself is in
        assert [entry.report_id for entry in recoded_entries()] == [first_report_id(first)]
        assert versions_of(LabResult, case_ids[1]) == {LFT_ABNORMAL: "27.1"}
        monkeypatch.setattr(meddra, "recode_batch", recode_batch)
        result = meddra.import_release(release, "test")  # again: the rest is recoded
        assert not result.added and list(result.recoded) == [case_ids[1]]
        assert [entry.report_id for entry in recoded_entries()] == [
            first_report_id(first),
            first_report_id(second),
        ]
        assert versions_of(LabResult, case_ids[1]) == {LFT_ABNORMAL: NEW}


def test_the_coder_recodes_what_is_left_on_the_upgrade_page(upgraded):
    app, (first, second), (case_a, _case_b) = upgraded
    client = signed_in(app, REVIEWER)
    english(client)
    text = client.get("/staff/coding/upgrade").get_data(as_text=True)
    assert "Codings of an older version: 3" in text  # two itchings, one history
    for reference in (first, second):
        assert f">{reference}</a>" in text
    assert (
        "84000003 Itching · PT 83000002 Pruritus (MedDRA 27.1) · "
        "<strong>no longer current in MedDRA 28.0" in text
    )
    assert (
        "84000008 Shortness of breath · PT 83000015 Dyspnoea (MedDRA 27.1) · <strong>no longer in"
        in text
    )
    assert "“气短”" in text and str(SHORTNESS) in text
    assert "Skin rash" not in text and "头痛" not in text and "肝功能" not in text
    listed = text.split('id="listed"')[1]
    assert "板蓝根颗粒" in listed and "<td>恶心</td><td>83000004</td>" in listed
    with app.app_context():
        itch = db.session.scalar(
            sa.select(Reaction).where(Reaction.case_id == case_a, Reaction.llt_code == ITCHING)
        )
        history = db.session.scalar(sa.select(TermCoding).where(TermCoding.kind == "history"))
        itch_id, history_id = itch.id, history.id

    searched = client.get(
        f"/staff/coding/upgrade?for=upgrade-reaction-{itch_id}&meddra_q=pruri%3Cs%3E"
    ).get_data(as_text=True)
    assert "pruri&lt;s&gt;" in searched and "pruri<s>" not in searched
    searched = client.get(f"/staff/coding/upgrade?for=upgrade-reaction-{itch_id}&meddra_q=prur")
    row = searched.get_data(as_text=True).split(f'id="upgrade-reaction-{itch_id}"')[1]
    assert f'name="chosen_llt" value="{PRURITUS}"' in row.split("</article>")[0]
    refused = post(
        client, "/staff/coding/upgrade", {"kind": "reaction", "row": itch_id, "llt_code": ITCHING}
    )
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "is no longer current in MedDRA 28.0" in page and f'value="{ITCHING}"' in page
    garbage = post(
        client,
        "/staff/coding/upgrade",
        {"kind": "reaction", "row": itch_id, "llt_code": "<b>x</b>"},
    )
    assert garbage.status_code == 422 and "<b>x</b>" not in garbage.get_data(as_text=True)
    for data in (
        {"kind": "nothing", "row": itch_id},
        {"kind": "reaction", "row": "x"},
        {"kind": "labs", "row": 99999},
    ):
        assert (
            post(client, "/staff/coding/upgrade", data | {"llt_code": PRURITUS}).status_code == 404
        )
    assert (
        post(
            client,
            "/staff/coding/upgrade",
            {"kind": "indication", "row": history_id, "llt_code": PRURITUS},
        ).status_code
        == 404
    )

    done = post(
        client,
        "/staff/coding/upgrade",
        {"kind": "reaction", "row": itch_id, "chosen_llt": PRURITUS},
    )
    assert done.status_code == 303
    again = post(  # a second coder's page, opened before: the first coder's choice stays
        client,
        "/staff/coding/upgrade",
        {"kind": "reaction", "row": itch_id, "chosen_llt": DYSPNOEA},
    )
    assert again.status_code == 303
    post(
        client,
        "/staff/coding/upgrade",
        {"kind": "history", "row": history_id, "llt_code": DYSPNOEA},
    )
    with app.app_context():
        assert versions_of(Reaction, case_a) == {SKIN_RASH: NEW, PRURITUS: NEW}
        assert versions_of(TermCoding, case_a)[DYSPNOEA] == NEW
        audited = db.session.execute(
            sa.select(
                AuditEntry.action,
                AuditEntry.field,
                AuditEntry.old_value,
                AuditEntry.new_value,
                AuditEntry.actor,
            )
            .where(
                AuditEntry.report_id == first_report_id(first),
                AuditEntry.action.in_(("reaction coded", "term coded")),
            )
            .order_by(AuditEntry.id)
        ).all()
    assert audited == [
        (
            "reaction coded",
            "meddra: 瘙痒",
            "84000003 Itching (27.1)",
            "83000002 Pruritus (28.0)",
            REVIEWER,
        ),
        (
            "term coded",
            "history: 气短",
            "84000008 Shortness of breath (27.1)",
            "83000015 Dyspnoea (28.0)",
            REVIEWER,
        ),
    ]
    text = client.get("/staff/coding/upgrade").get_data(as_text=True)
    assert "Codings of an older version: 1" in text and f">{second}</a>" in text


@pytest.fixture
def e2b_app(tmp_path, monkeypatch):
    yield from test_e2b.e2b_app(tmp_path, monkeypatch)


def test_the_e2b_file_carries_the_version_each_reaction_was_coded_in(e2b_app, tmp_path):
    reference = test_e2b.ready(e2b_app)
    with e2b_app.app_context():
        meddra.import_release(newer_release(tmp_path / "28", "zh"), "test")
        built = e2b.build(test_e2b.case_of(reference))
    found = test_e2b.parse(built.xml).xpath(
        test_e2b.RX + "/h:value/@codeSystemVersion", namespaces=test_e2b.H
    )
    assert found == [NEW, NEW]


# The designated medical events.


def test_admins_keep_the_designated_medical_events_reviewers_read_them(coded):  # noqa: F811
    admin, reviewer = signed_in(coded, ADMIN), signed_in(coded, REVIEWER)
    english(admin)
    path = "/staff/coding/designated-events"
    assert "The list is empty." in admin.get(path).get_data(as_text=True)
    assert post(admin, path, {"usual": "1"}).status_code == 303
    text = admin.get(path).get_data(as_text=True)
    assert f'data-pt="{ANAPHYLACTIC_SHOCK}"' in text and "Immune system disorders" in text
    assert ADMIN in text  # who added it

    found = admin.get(path + "?q=headache").get_data(as_text=True)
    assert 'name="chosen_pt" value="83000008"' in found
    assert post(admin, path, {"chosen_pt": "83000008"}).status_code == 303
    for typed, why in (
        ("84000001", "is not a PT of MedDRA 27.1"),
        ("<i>x</i>", "is not a MedDRA code"),
        ("83000008", "on the list already"),
        ("", "Give a PT code"),
    ):
        refused = post(admin, path, {"pt_code": typed})
        page = refused.get_data(as_text=True)
        assert refused.status_code == 422 and why in page and "<i>x</i>" not in page
        assert f'name="pt_code" value="{html.escape(typed)}"' in page
    assert post(admin, path, {"remove": "83000008"}).status_code == 303
    assert post(admin, path, {"remove": "99999999"}).status_code == 404
    assert post(admin, path, {"remove": "zz"}).status_code == 404

    read_only = reviewer.get(path).get_data(as_text=True)
    assert f'data-pt="{ANAPHYLACTIC_SHOCK}"' in read_only and 'name="remove"' not in read_only
    assert post(reviewer, path, {"pt_code": "83000008"}).status_code == 403
    with coded.app_context():
        assert set(db.session.scalars(sa.select(DesignatedMedicalEvent.pt_code))) == {
            ANAPHYLACTIC_SHOCK
        }
        audited = db.session.execute(
            sa.select(AuditEntry.field, AuditEntry.old_value, AuditEntry.new_value)
            .where(AuditEntry.action == "designated events changed")
            .order_by(AuditEntry.id)
        ).all()
    assert audited == [
        ("designated_event", None, f"{ANAPHYLACTIC_SHOCK} Anaphylactic shock (27.1)"),
        ("designated_event", None, "83000008 Headache (27.1)"),
        ("designated_event", "83000008 Headache (27.1)", None),
    ]
