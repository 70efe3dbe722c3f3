"""The case page's reactions: MedDRA coding, each reaction's own values, judgements per drug."""

from __future__ import annotations

import html

import pytest
import sqlalchemy as sa
from markupsafe import escape

from adr import meddra
from adr.extensions import db
from adr.models import AuditEntry, DrugReaction, Reaction, Report, TermCoding
from tests.meddra_fixture import NOT_CURRENT, PRURITUS, RASH, write_release
from tests.test_review import REVIEWER, csrf, signed_in, staff, submit, trail  # noqa: F401

ITCHING = 84000003  # a current LLT of Pruritus
SKIN_RASH = 84000001


@pytest.fixture
def coded(staff, tmp_path):  # noqa: F811 - the fixture imported above
    """Staff, with the synthetic MedDRA release imported in English and Chinese."""
    with staff.app_context():
        meddra.import_release(write_release(tmp_path / "en", "en"), "test")
        meddra.import_release(write_release(tmp_path / "zh", "zh"), "test")
    return staff


def reactions_of(app, reference: str) -> list[Reaction]:
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        found = list(report.case.reactions)
        for reaction in found:
            reaction.assessments  # noqa: B018 - load them before the session ends
        db.session.expunge_all()
        return found


def reaction_named(app, reference: str, term: str) -> Reaction:
    return next(r for r in reactions_of(app, reference) if r.reported_term == term)


def page(client, reference: str, query: str = "") -> str:
    response = client.get(f"/staff/reports/{reference}{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def post(client, path: str, data: dict):
    return client.post(path, data={**data, "csrf_token": csrf(client)})


def entries(app, reference: str, action: str) -> list[AuditEntry]:
    return [entry for entry in trail(app, reference) if entry.action == action]


def english(client) -> None:
    client.get("/staff/?lang=en")


# Coding a reaction.


def test_a_reaction_is_coded_recoded_and_uncoded_with_its_audit(coded):
    reference = submit(coded)
    client = signed_in(coded, REVIEWER)
    itch = reaction_named(coded, reference, "瘙痒")
    text = page(client, reference)
    assert 'id="reactions"' in text and 'action="/staff/reports/' + reference + '/coding"' in text
    assert 'name="llt_code"' in text and f'name="reaction" value="{itch.id}"' in text

    response = post(
        client, f"/staff/reports/{reference}/coding", {"reaction": itch.id, "llt_code": PRURITUS}
    )
    assert response.status_code == 303 and response.location.endswith(f"#reaction-{itch.id}")
    stored = reaction_named(coded, reference, "瘙痒")
    assert (stored.llt_code, stored.meddra_version, stored.coded_by) == (PRURITUS, "27.1", REVIEWER)
    assert stored.coded_at is not None
    assert reaction_named(coded, reference, "皮疹").llt_code is None

    post(client, f"/staff/reports/{reference}/coding", {"reaction": itch.id, "chosen_llt": ITCHING})
    assert reaction_named(coded, reference, "瘙痒").llt_code == ITCHING
    post(client, f"/staff/reports/{reference}/coding", {"reaction": itch.id, "uncode": "1"})
    stored = reaction_named(coded, reference, "瘙痒")
    assert (stored.llt_code, stored.meddra_version, stored.coded_by) == (None, None, None)

    audited = [
        (e.field, e.old_value, e.new_value) for e in entries(coded, reference, "reaction coded")
    ]
    assert audited == [
        ("meddra: 瘙痒", None, f"{PRURITUS} Pruritus (27.1)"),
        ("meddra: 瘙痒", f"{PRURITUS} Pruritus (27.1)", f"{ITCHING} Itching (27.1)"),
        ("meddra: 瘙痒", f"{ITCHING} Itching (27.1)", None),
    ]
    assert all(entry.actor == REVIEWER for entry in entries(coded, reference, "reaction coded"))
    response = post(
        client, f"/staff/reports/{reference}/coding", {"reaction": itch.id, "uncode": "1"}
    )
    assert response.status_code == 303  # nothing to remove: nothing audited
    assert len(entries(coded, reference, "reaction coded")) == 3


def test_the_table_shows_the_coding_with_its_pt_and_primary_soc(coded):
    reference = submit(coded)
    client = signed_in(coded, REVIEWER)
    english(client)
    rash = reaction_named(coded, reference, "皮疹")
    post(client, f"/staff/reports/{reference}/coding", {"reaction": rash.id, "llt_code": SKIN_RASH})
    text = page(client, reference)
    row = text.split(f'id="reaction-{rash.id}"')[1].split("</tr>")[0]
    assert f"{SKIN_RASH} Skin rash" in row and f"{RASH} Rash" in row
    assert "Skin and subcutaneous tissue disorders" in row and "27.1" in row and REVIEWER in row
    assert "(Chinese)" in row and "as the case" in row


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("99999999", "is not an LLT of MedDRA 27.1"),
        (str(NOT_CURRENT), "is no longer current"),
        ("皮疹<b>", "is not a MedDRA code"),
        ("", "Give an LLT code"),
        ("１２３", "is not a MedDRA code"),  # full-width digits are not a code
    ],
)
def test_a_code_that_cannot_be_used_is_refused_and_kept(coded, typed, why):
    reference = submit(coded)
    client = signed_in(coded, REVIEWER)
    english(client)
    itch = reaction_named(coded, reference, "瘙痒")
    response = post(
        client, f"/staff/reports/{reference}/coding", {"reaction": itch.id, "llt_code": typed}
    )
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert why in html.unescape(text)
    assert f'name="llt_code" value="{html.escape(typed)}"' in text
    assert "皮疹<b>" not in text  # escaped wherever it is shown
    assert f'<details class="more" id="coding-{itch.id}" open>' in text
    assert reaction_named(coded, reference, "瘙痒").llt_code is None
    assert entries(coded, reference, "reaction coded") == []


def test_without_a_release_the_section_says_how_to_import_one(staff):  # noqa: F811
    reference = submit(staff)
    client = signed_in(staff, REVIEWER)
    english(client)
    text = page(client, reference)
    assert "adr import-meddra" in text and "瘙痒" in text
    itch = reaction_named(staff, reference, "瘙痒")
    response = post(
        client, f"/staff/reports/{reference}/coding", {"reaction": itch.id, "llt_code": PRURITUS}
    )
    assert response.status_code == 422
    assert "No MedDRA release is imported" in response.get_data(as_text=True)


def test_suggestions_come_from_the_reported_term_in_chinese_and_english(coded):
    reference = submit(coded)
    english_reference = submit(coded, {"event-name": "rash; itching"})
    client = signed_in(coded, REVIEWER)
    rash = reaction_named(coded, reference, "皮疹")
    coding_form = page(client, reference).split(f'id="coding-{rash.id}"')[1].split("</form>")[0]
    for code in (RASH, SKIN_RASH, 84000002):  # 皮疹, 皮肤皮疹, 全身皮疹: exact, then holding it
        assert f'name="chosen_llt" value="{code}"' in coding_form
    assert "皮肤及皮下组织类疾病" in coding_form  # the primary SOC, in the page's language
    assert coding_form.index(f'value="{RASH}"') < coding_form.index(f'value="{SKIN_RASH}"')

    english(client)
    rash_en = reaction_named(coded, english_reference, "rash")
    assert rash_en.language == "eng"
    coding_form = page(client, english_reference).split(f'id="coding-{rash_en.id}"')[1]
    coding_form = coding_form.split("</form>")[0]
    assert f'value="{RASH}"' in coding_form and "Skin rash" in coding_form
    itching = reaction_named(coded, english_reference, "itching")
    coding_form = page(client, english_reference).split(f'id="coding-{itching.id}"')[1]
    assert f'value="{ITCHING}"' in coding_form.split("</form>")[0]
    assert f'value="{NOT_CURRENT}"' not in coding_form  # a non-current LLT is never offered


def test_the_search_box_finds_other_text_for_one_reaction(coded):
    reference = submit(coded)
    client = signed_in(coded, REVIEWER)
    rash = reaction_named(coded, reference, "皮疹")
    itch = reaction_named(coded, reference, "瘙痒")
    text = page(client, reference, f"?meddra_q=prur&for={rash.id}")
    rash_form = text.split(f'id="coding-{rash.id}"')[1].split("</form>")[0]
    assert f'value="{PRURITUS}"' in rash_form and f'value="{RASH}"' not in rash_form
    assert f'<details class="more" id="coding-{rash.id}" open>' in text
    itch_form = text.split(f'id="coding-{itch.id}"')[1].split("</form>")[0]
    assert f'value="{PRURITUS}"' in itch_form  # the other reaction still suggests from its term
    text = page(client, reference, "?meddra_q=%3Cscript%3E&for=nothing")  # hostile, unknown
    assert "<script>" not in text.split('id="reactions"')[1]


def test_garbage_and_another_cases_reaction_get_no_500_and_change_nothing(coded):
    reference, other = submit(coded), submit(coded)
    client = signed_in(coded, REVIEWER)
    foreign = reaction_named(coded, other, "瘙痒")
    for reaction in ("x", "", "-1", "99999999999999999999", "1.5", str(foreign.id)):
        response = post(
            client, f"/staff/reports/{reference}/coding", {"reaction": reaction, "llt_code": RASH}
        )
        assert response.status_code == 404, reaction
    for path in (f"/staff/reports/{reference}/reactions/{foreign.id}", "/staff/reports/x/coding"):
        assert post(client, path, {"outcome": "recovered"}).status_code == 404
    assert post(client, f"/staff/reports/{reference}/reactions/abc", {}).status_code == 404
    assert reaction_named(coded, other, "瘙痒").llt_code is None
    assert reaction_named(coded, other, "瘙痒").outcome is None


def test_staff_only_and_csrf(coded):
    reference = submit(coded)
    itch = reaction_named(coded, reference, "瘙痒")
    anonymous = coded.test_client()
    paths = [
        ("/coding", {"reaction": itch.id, "llt_code": PRURITUS}),
        ("/coding/terms", {"kind": "indication", "text": "急性支气管炎", "llt_code": PRURITUS}),
        (f"/reactions/{itch.id}", {"outcome": "recovered"}),
        ("/reactions", {"reported_term": "头痛"}),
        ("/judgements", {}),
    ]
    for path, data in paths:
        response = post(anonymous, f"/staff/reports/{reference}{path}", data)
        assert response.status_code == 302 and "/login" in response.location
    client = signed_in(coded, REVIEWER)
    for path, data in paths:
        response = client.post(f"/staff/reports/{reference}{path}", data=data)  # no token
        assert response.status_code == 400
    stored = reaction_named(coded, reference, "瘙痒")
    assert (stored.llt_code, stored.outcome) == (None, None)
    assert len(reactions_of(coded, reference)) == 2


# Each reaction's own values.


def test_a_reactions_own_values_are_set_audited_and_given_back(coded):
    reference = submit(coded)
    client = signed_in(coded, REVIEWER)
    english(client)
    itch = reaction_named(coded, reference, "瘙痒")
    path = f"/staff/reports/{reference}/reactions/{itch.id}"
    response = post(
        client,
        path,
        {
            "onset_date": "2026-11-22",
            "end_date": "2026-11-25",
            "outcome": "recovered",
            "serious_mode": "own",
        },
    )
    assert response.status_code == 303
    stored = reaction_named(coded, reference, "瘙痒")
    assert (str(stored.onset_date), str(stored.end_date), stored.outcome, stored.serious) == (
        "2026-11-22",
        "2026-11-25",
        "recovered",
        [],
    )
    assert reaction_named(coded, reference, "皮疹").outcome is None
    audited = {
        e.field: (e.old_value, e.new_value) for e in entries(coded, reference, "reaction changed")
    }
    assert audited == {
        "onset_date: 瘙痒": (None, "2026-11-22"),
        "end_date: 瘙痒": (None, "2026-11-25"),
        "outcome: 瘙痒": (None, "recovered"),
        "serious: 瘙痒": (None, "[]"),
    }
    row = page(client, reference).split(f'id="reaction-{itch.id}"')[1].split("</tr>")[0]
    assert "Recovered" in row and "not serious" in row and "set for this reaction" in row
    assert "as the case" not in row

    post(client, path, {"onset_date": "", "end_date": "", "outcome": "", "serious_mode": "case"})
    stored = reaction_named(coded, reference, "瘙痒")
    assert (stored.onset_date, stored.end_date, stored.outcome, stored.serious) == (None,) * 4
    assert len(entries(coded, reference, "reaction changed")) == 8
    row = page(client, reference).split(f'id="reaction-{itch.id}"')[1].split("</tr>")[0]
    assert "2026-11-21" in row and "Getting better" in row and "set for this reaction" not in row


@pytest.mark.parametrize(
    ("values", "field", "why"),
    [
        ({"onset_date": "2026-11-23", "end_date": "2026-11-22"}, "end_date", "cannot end before"),
        ({"end_date": "2026-11-20"}, "end_date", "cannot end before its onset (2026-11-21)"),
        ({"onset_date": "21/11/2026"}, "onset_date", "YYYY-MM-DD"),
        ({"onset_date": "2999-01-01"}, "onset_date", "in the future"),
        ({"onset_date": "0999-01-01"}, "onset_date", "too long ago"),
        ({"outcome": "cured<script>"}, "outcome", "Choose an outcome"),
        ({"serious_mode": "own", "serious": "death"}, "serious", "needs the outcome"),
        ({"serious_mode": "case", "serious": "life_threatening"}, "serious", "set for this"),
        ({"serious_mode": "own", "serious": "bogus"}, "serious", "Choose seriousness"),
        # A reaction is never more than its case: the case's clock was set by the case's.
        ({"serious_mode": "own", "serious": "life_threatening"}, "serious", "more serious than"),
        ({"outcome": "death"}, "outcome", "record the death in the case's assessment"),
    ],
)
def test_refused_reaction_values_are_kept_with_the_reason(coded, values, field, why):
    reference = submit(coded)
    client = signed_in(coded, REVIEWER)
    english(client)
    itch = reaction_named(coded, reference, "瘙痒")
    response = post(client, f"/staff/reports/{reference}/reactions/{itch.id}", values)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert why in html.unescape(text)
    assert f'id="reaction-{itch.id}-values-{field}-error"' in text
    for name in ("onset_date", "end_date"):
        if name in values:
            assert f'name="{name}" value="{values[name]}"' in text
    assert "<script>" not in text.split('id="reactions"')[1].split("</section>")[0]
    stored = reaction_named(coded, reference, "瘙痒")
    assert (stored.onset_date, stored.end_date, stored.outcome, stored.serious) == (None,) * 4
    assert entries(coded, reference, "reaction changed") == []


def test_staff_add_a_reaction_from_the_narrative(coded):
    reference = submit(coded)
    client = signed_in(coded, REVIEWER)
    english(client)
    hostile = '<script>alert("x")</script>头痛'
    response = post(client, f"/staff/reports/{reference}/reactions", {"reported_term": hostile})
    assert response.status_code == 303
    added = reactions_of(coded, reference)[-1]
    assert (added.reported_term, added.language, added.position) == (hostile, "chi", 3)
    assert [e.new_value for e in entries(coded, reference, "reaction added")] == [hostile]
    text = page(client, reference)
    assert hostile not in text and str(escape(hostile)) in text
    assert f'name="chosen_llt" value="{83000008}"' in text.split(f'id="coding-{added.id}"')[1]

    for typed, why in (
        ("", "Give the reaction"),
        ("皮疹", "has this reaction already"),
        ("Rash" * 63, "At most 250"),
        ("。。", "in words"),
    ):
        response = post(client, f"/staff/reports/{reference}/reactions", {"reported_term": typed})
        assert response.status_code == 422, typed
        text = response.get_data(as_text=True)
        assert why in text and f'value="{typed}"' in text
    assert len(reactions_of(coded, reference)) == 3


# Judgements per drug and reaction.


def pair_inputs(reaction_id: int, index: int = 0, **values: str) -> dict[str, str]:
    names = ("reporter_causality", "company_causality", "dechallenge", "rechallenge")
    return {f"pair-{reaction_id}-{index}-{name}": values.get(name, "") for name in names}


def test_judgements_per_drug_and_reaction_are_stored_audited_and_given_back(coded):
    reference = submit(coded, {"drugs-1-role": "interacting"})
    client = signed_in(coded, REVIEWER)
    english(client)
    rash = reaction_named(coded, reference, "皮疹")
    itch = reaction_named(coded, reference, "瘙痒")
    text = page(client, reference)
    assert (
        'name="drug-0" value="阿莫西林胶囊"' in text
        and 'name="drug-1" value="盐酸氨溴索片"' in text
    )
    assert "as the case (Probable)" in text  # the reporter's causality, the case's single value
    drugs = {"drug-0": "阿莫西林胶囊", "drug-1": "盐酸氨溴索片"}
    data = {
        **drugs,
        **pair_inputs(rash.id, 0, company_causality="certain", dechallenge="yes"),
        **pair_inputs(rash.id, 1, reporter_causality="unlikely"),
        **pair_inputs(itch.id, 0),
        **pair_inputs(itch.id, 1),
    }
    assert post(client, f"/staff/reports/{reference}/judgements", data).status_code == 303
    rows = {row.drug_key: row for row in reaction_named(coded, reference, "皮疹").assessments}
    assert (rows["阿莫西林胶囊"].company_causality, rows["阿莫西林胶囊"].dechallenge) == (
        "certain",
        "yes",
    )
    assert rows["阿莫西林胶囊"].reporter_causality is None
    assert rows["盐酸氨溴索片"].reporter_causality == "unlikely"
    assert reaction_named(coded, reference, "瘙痒").assessments == []
    audited = [(e.field, e.new_value) for e in entries(coded, reference, "judgement changed")]
    assert audited == [
        ("company_causality: 阿莫西林胶囊 × 皮疹", "certain"),
        ("dechallenge: 阿莫西林胶囊 × 皮疹", "yes"),
        ("reporter_causality: 盐酸氨溴索片 × 皮疹", "unlikely"),
    ]
    text = page(client, reference)
    select = text.split(f'name="pair-{rash.id}-0-company_causality"')[1].split("</select>")[0]
    assert '<option value="certain" selected>' in select

    again = {**data, **pair_inputs(rash.id, 0), **pair_inputs(rash.id, 1)}
    assert post(client, f"/staff/reports/{reference}/judgements", again).status_code == 303
    with coded.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DrugReaction)) == 0
    assert len(entries(coded, reference, "judgement changed")) == 6
    assert post(client, f"/staff/reports/{reference}/judgements", again).status_code == 303
    assert len(entries(coded, reference, "judgement changed")) == 6


def test_refused_judgements_keep_every_value(coded):
    reference = submit(coded)
    client = signed_in(coded, REVIEWER)
    english(client)
    rash = reaction_named(coded, reference, "皮疹")
    data = {
        "drug-0": "阿莫西林胶囊",
        **pair_inputs(rash.id, 0, company_causality="possible", rechallenge="maybe<i>"),
    }
    response = post(client, f"/staff/reports/{reference}/judgements", data)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert f'id="pair-{rash.id}-0-rechallenge-error"' in text and "Choose from the list" in text
    select = text.split(f'name="pair-{rash.id}-0-company_causality"')[1].split("</select>")[0]
    assert '<option value="possible" selected>' in select
    stale = {**data, "drug-0": "another drug", f"pair-{rash.id}-0-rechallenge": "no"}
    response = post(client, f"/staff/reports/{reference}/judgements", stale)
    assert response.status_code == 422 and "drugs changed" in response.get_data(as_text=True)
    with coded.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DrugReaction)) == 0


# Indications and medical history.


def test_an_indication_and_a_history_are_coded_by_their_text(coded):
    reference = submit(coded)
    client = signed_in(coded, REVIEWER)
    english(client)
    text = page(client, reference)
    # The condition treated (急性支气管炎) is a related disease of the holder form, coded as a row.
    assert 'id="coding-indication-0"' in text and 'id="coding-history-0"' in text
    assert 'id="coding-history-1"' not in text
    path = f"/staff/reports/{reference}/coding/terms"
    indication = {"kind": "indication", "text": "急性支气管炎"}
    assert post(client, path, {**indication, "llt_code": "83000012"}).status_code == 303
    response = post(client, path, {**indication, "llt_code": str(NOT_CURRENT)})
    assert response.status_code == 422 and "no longer current" in response.get_data(as_text=True)
    history = {"kind": "history", "text": "青霉素皮试阳性(2019年)"}
    assert post(client, path, {**history, "chosen_llt": "83000010"}).status_code == 303
    with coded.app_context():
        codings = {(c.kind, c.text): c.llt_code for c in db.session.scalars(sa.select(TermCoding))}
    assert codings == {
        ("indication", "急性支气管炎"): 83000012,
        ("history", history["text"]): 83000010,
    }
    assert post(client, path, {**indication, "uncode": "1"}).status_code == 303
    audited = [(e.field, e.old_value, e.new_value) for e in entries(coded, reference, "term coded")]
    assert audited == [
        ("indication: 急性支气管炎", None, "83000012 Pyrexia (27.1)"),
        ("history: 青霉素皮试阳性(2019年)", None, "83000010 Anaphylactic shock (27.1)"),
        ("indication: 急性支气管炎", "83000012 Pyrexia (27.1)", None),
    ]
    response = post(client, path, {"kind": "history", "text": "not the case's", "llt_code": RASH})
    assert response.status_code == 303  # told the text changed; nothing stored
    response = post(client, path, {"kind": "nonsense", "text": "急性支气管炎", "llt_code": RASH})
    assert response.status_code == 303
    with coded.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TermCoding)) == 1


# Terms that are not reactions.


def test_a_term_that_is_not_a_reaction_is_set_aside_kept_and_restored(coded):
    reference = submit(coded, {"event-name": "皮疹、停药后好转"})
    client = signed_in(coded, REVIEWER)
    english(client)
    fragment = reaction_named(coded, reference, "停药后好转")
    path = f"/staff/reports/{reference}/reactions/{fragment.id}/exclusion"
    refused = post(client, path, {"reason": "  "})
    assert refused.status_code == 422 and "Say why" in html.unescape(refused.get_data(as_text=True))
    assert post(client, path, {"reason": "病程描述，不是不良反应"}).status_code == 303
    text = page(client, reference)
    assert f'id="reaction-{fragment.id}"' not in text  # not among the reactions, nor judged
    assert f'data-pair="{fragment.id}-' not in text
    assert f'id="excluded-{fragment.id}"' in text and "病程描述，不是不良反应" in text
    assert [(e.old_value, e.new_value) for e in entries(coded, reference, "reaction excluded")] == [
        (None, "病程描述，不是不良反应")
    ]
    submit(coded, {"follow_up_of": reference, "event-name": "停药后好转"})  # not added again
    assert [r.reported_term for r in reactions_of(coded, reference)].count("停药后好转") == 1
    assert post(client, path, {"restore": "1"}).status_code == 303
    assert reaction_named(coded, reference, "停药后好转").excluded_reason is None
    assert f'id="reaction-{fragment.id}"' in page(client, reference)
    assert len(entries(coded, reference, "reaction restored")) == 1


def test_a_case_with_many_drugs_and_reactions_is_judged_one_drug_at_a_time(coded):
    terms = "、".join(["皮疹", "瘙痒", "恶心", "呕吐", "头晕", "头痛", "腹泻", "心悸", "胸闷"] * 2)
    fields = {"event-name": terms + "、" + "、".join(f"反应{n}" for n in range(14))}
    reference = submit(coded, fields)
    client = signed_in(coded, REVIEWER)
    english(client)
    text = page(client, reference)
    assert text.count('<tr data-pair="') == 23  # one drug: 23 reactions, none repeated
    assert text.count('class="suggestions"') + text.count("No current LLT matches") <= 12
    rash = reaction_named(coded, reference, "皮疹")
    data = {"drug-0": "阿莫西林胶囊", **pair_inputs(rash.id, 0, company_causality="possible")}
    assert post(client, f"/staff/reports/{reference}/judgements", data).status_code == 303
    (row,) = reaction_named(coded, reference, "皮疹").assessments
    assert row.company_causality == "possible"
