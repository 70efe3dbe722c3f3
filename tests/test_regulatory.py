"""The pure rules of the regulation, without an app."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from adr import regulatory
from adr.regulatory import CHINA


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_references_have_the_spec_format_and_the_china_month():
    reference = regulatory.new_reference(utc(2025, 10, 31, 16, 30))  # 00:30 on 1 November in China
    assert re.fullmatch(r"ADR-202511-[0-9ABCDEFGHJKMNPQRSTVWXYZ]{6}", reference)
    assert regulatory.new_reference(utc(2025, 10, 31, 15, 59)).startswith("ADR-202510-")


def test_references_are_not_guessable():
    references = {regulatory.new_reference(utc(2026, 11, 1)) for _ in range(2000)}
    assert len(references) == 2000
    assert len({r[-6:][0] for r in references}) == 32  # every first character turns up


@pytest.mark.parametrize(
    ("typed", "reference"),
    [
        ("ADR-202611-7K3QD9", "ADR-202611-7K3QD9"),
        (" adr-202611-7k3qd9 ", "ADR-202611-7K3QD9"),
        ("ADR-202611-1O0IL1", "ADR-202611-100111"),
        ("ADR-202613-7K3QD9", None),
        ("ADR-202611-7K3QD", None),
        ("ADR-202611-7K3QDU", None),
        ("", None),
        ("ADR202611-7K3QD9", None),
    ],
)
def test_normalize_reference(typed, reference):
    assert regulatory.normalize_reference(typed) == reference


@pytest.mark.parametrize(
    ("criteria", "outcome", "serious"),
    [([], "recovered", False), (["hospitalization"], "recovered", True), ([], "death", True)],
)
def test_seriousness(criteria, outcome, serious):
    assert regulatory.is_serious(criteria, outcome) is serious


@pytest.mark.parametrize(
    ("serious", "new", "category"),
    [
        (False, False, "general"),
        (True, False, "serious"),
        (False, True, "new"),
        (True, True, "new_serious"),
    ],
)
def test_report_category(serious, new, category):
    assert regulatory.report_category(serious, new) == category


def china_deadline(received: datetime, category: str, death: bool = False) -> datetime:
    """Return the deadline in China time of a web report received at `received`."""
    day_zero = regulatory.china_date(received)
    return regulatory.due_at(day_zero, category, death).astimezone(CHINA)


def test_a_general_report_is_due_at_the_end_of_the_30th_china_day():
    due = china_deadline(utc(2026, 11, 29, 2, 0), "general")  # 10:00 in China
    assert due == datetime(2026, 12, 29, 23, 59, 59, tzinfo=CHINA)


@pytest.mark.parametrize("category", ["serious", "new_serious"])
def test_serious_reports_are_due_in_15_days(category):
    assert china_deadline(utc(2026, 11, 29, 2, 0), category).date() == date(2026, 12, 14)


def test_a_new_non_serious_reaction_has_30_days_unless_the_sop_says_15():
    """The holder's clock (NMPA 2018 No. 66, GVP 2021); Order 81 Art. 20 gave it 15."""
    day_zero = date(2026, 11, 29)
    assert regulatory.due_at(day_zero, "new", death=False).date() == date(2026, 12, 29)
    sop = regulatory.due_at(day_zero, "new", death=False, new_days=15)
    assert sop.astimezone(CHINA).date() == date(2026, 12, 14)
    assert regulatory.due_at(day_zero, "new_serious", False, new_days=30).astimezone(
        CHINA
    ).date() == date(2026, 12, 14)


def test_a_death_is_due_at_once_whatever_the_category():
    assert china_deadline(utc(2026, 11, 29, 2, 0), "general", death=True).date() == date(
        2026, 11, 30
    )
    assert china_deadline(utc(2026, 11, 29, 2, 0), "new_serious", death=True).date() == date(
        2026, 11, 30
    )


def test_day_0_is_the_china_date_not_the_utc_date():
    late_utc = utc(2026, 1, 31, 17, 0)  # 1 February, 01:00 in China
    assert china_deadline(late_utc, "general").date() == date(2026, 3, 3)
    day_zero = regulatory.china_date(late_utc)
    assert day_zero == date(2026, 2, 1)
    assert regulatory.due_at(day_zero, "general", False).tzinfo == UTC
    assert regulatory.due_at(day_zero, "general", False) == utc(2026, 3, 3, 15, 59, 59)


def test_deadlines_cross_month_and_year_ends():
    assert china_deadline(utc(2026, 12, 31, 15, 0), "serious").date() == date(2027, 1, 15)
    assert china_deadline(utc(2028, 2, 14, 0, 0), "serious").date() == date(2028, 2, 29)


def test_overdue_only_until_the_report_reaches_the_regulator():
    due = utc(2026, 11, 1)
    later = due + timedelta(seconds=1)
    assert regulatory.is_overdue(due, None, later)
    assert not regulatory.is_overdue(due, None, due)
    assert not regulatory.is_overdue(due, date(2026, 11, 2), later)  # sent, if late


def test_a_report_without_a_deadline_is_never_overdue():
    assert not regulatory.is_overdue(None, None, utc(2026, 11, 1))


def test_the_death_investigation_is_due_15_days_after_day_0():
    due = regulatory.investigation_due_at(date(2026, 11, 20)).astimezone(CHINA)
    assert due == datetime(2026, 12, 5, 23, 59, 59, tzinfo=CHINA)


def test_china_today_is_judged_in_china():
    assert regulatory.china_today(utc(2026, 11, 28, 23, 0)) == date(2026, 11, 29)  # 07:00 in Xi'an


@pytest.mark.parametrize(
    ("birth", "onset", "unit", "age"),
    [
        (date(1958, 3, 14), date(2026, 3, 13), "year", 67),
        (date(1958, 3, 14), date(2026, 3, 14), "year", 68),
        (date(2026, 1, 31), date(2026, 2, 28), "month", 0),
        (date(2026, 1, 31), date(2026, 3, 31), "month", 2),
        (date(2026, 11, 1), date(2026, 11, 13), "day", 12),
        (date(2024, 2, 29), date(2025, 2, 28), "year", 0),
    ],
)
def test_age_at_onset(birth, onset, unit, age):
    assert regulatory.age_at(birth, onset, unit) == age


@pytest.mark.parametrize(
    ("birth", "onset", "age"),
    [
        (date(1958, 3, 14), date(2026, 11, 21), (68, "year")),
        (date(2026, 3, 20), date(2026, 11, 21), (8, "month")),
        (date(2026, 11, 9), date(2026, 11, 21), (12, "day")),
        (date(2026, 11, 21), date(2026, 11, 21), (0, "day")),
    ],
)
def test_natural_age(birth, onset, age):
    assert regulatory.natural_age(birth, onset) == age


def drug(**fields):
    blank = dict.fromkeys(
        [
            "brand_name",
            "generic_name",
            "approval_number",
            "manufacturer",
            "batch_number",
            "dose",
            "dose_unit",
            "route",
            "frequency",
            "start_date",
            "indication",
        ]
    )
    return SimpleNamespace(**(blank | {"role": "suspect"} | fields))


def case(**fields):
    blank = dict.fromkeys(
        [
            "reporter_kind",
            "reporter_name",
            "reporter_phone",
            "reporter_email",
            "reporter_organization",
            "patient_name",
            "patient_sex",
            "patient_birth_date",
            "patient_age",
            "patient_weight_kg",
            "patient_disease",
            "patient_past_adr",
            "patient_family_adr",
            "event_name",
            "event_onset_date",
            "event_description",
            "event_outcome",
            "event_dechallenge",
            "event_rechallenge",
        ]
    )
    return SimpleNamespace(**(blank | {"drugs": []} | fields))


MINIMUM = {
    "patient_sex": "female",
    "reporter_phone": "13912345678",
    "drugs": [drug(generic_name="阿莫西林胶囊")],
    "event_name": "皮疹",
}


def test_a_case_with_the_four_minimum_elements_is_valid():
    assert regulatory.is_valid_case(case(**MINIMUM))


@pytest.mark.parametrize(
    "missing",
    [
        {"patient_sex": "unknown"},
        {"reporter_phone": None},
        {"drugs": [drug(generic_name="阿莫西林胶囊", role="concomitant")]},
        {"drugs": [drug()]},
        {"event_name": None},
    ],
)
def test_a_case_missing_a_minimum_element_is_not_valid(missing):
    assert not regulatory.is_valid_case(case(**(MINIMUM | missing)))


PLACEHOLDERS = [
    "不详", "未知", "匿名", "无", "某某", "患者", "unknown", "Unknown", "ANONYMOUS", "n/a", "N/A",
    "na", "none", "-", "?", "x", "XX", "--", "...", "不 详", "（不详）", "ＵＮＫＮＯＷＮ", "Ｎ/Ａ",
    "？", " 匿名 ", "无名氏", "*", "  ",
]  # fmt: skip


@pytest.mark.parametrize("placeholder", PLACEHOLDERS)
def test_a_placeholder_name_identifies_nobody(placeholder):
    assert not regulatory.identifies(placeholder)
    nameless = {"patient_name": placeholder, "patient_sex": None}
    assert not regulatory.is_valid_case(case(**(MINIMUM | nameless)))
    anonymous = {"reporter_name": placeholder, "reporter_phone": None, "reporter_email": None}
    assert not regulatory.is_valid_case(case(**(MINIMUM | anonymous)))


@pytest.mark.parametrize("name", ["张三", "ZS", "Z.S.", "Wang Fang", "李", "Anna"])
def test_names_and_initials_identify(name):
    assert regulatory.identifies(name)


def test_a_placeholder_drug_or_reaction_is_missing():
    assert not regulatory.is_valid_case(case(**(MINIMUM | {"event_name": "不详"})))
    elements = regulatory.minimum_elements(case(**(MINIMUM | {"event_name": "unknown"})))
    assert elements == {"patient": True, "reporter": True, "drug": True, "reaction": False}


@pytest.mark.parametrize(
    "patient",
    [{"patient_name": "ZS"}, {"patient_age": 0}, {"patient_birth_date": date(2000, 1, 1)}],
)
def test_a_patient_is_identifiable_by_initials_age_or_birth_date(patient):
    assert regulatory.is_valid_case(case(**(MINIMUM | {"patient_sex": "unknown"} | patient)))


FULL_DRUG = drug(
    generic_name="阿莫西林胶囊",
    approval_number="国药准字H61020123",
    manufacturer="天宁",
    batch_number="20260315A",
    dose=0.5,
    dose_unit="g",
    route="oral",
    frequency="每日3次",
    start_date=date(2026, 11, 20),
    indication="支气管炎",
)
FULL_CASE = {
    "reporter_kind": "patient",
    "reporter_name": "王丽",
    "reporter_email": "w@example.com",
    "patient_name": "ZS",
    "patient_sex": "female",
    "patient_age": 68,
    "patient_weight_kg": 60.0,
    "patient_disease": "支气管炎",
    "patient_past_adr": "no",
    "patient_family_adr": "unknown",
    "drugs": [FULL_DRUG, drug(role="concomitant", generic_name="氨溴索")],
    "event_name": "皮疹",
    "event_onset_date": date(2026, 11, 21),
    "event_description": "躯干皮疹伴瘙痒",
    "event_outcome": "recovered",
    "event_dechallenge": "yes",
    "event_rechallenge": "not_applicable",
}


def test_a_complete_case_scores_100():
    assert regulatory.completeness(case(**FULL_CASE)) == regulatory.Completeness(100, [])


def test_completeness_names_what_is_missing():
    partial = FULL_CASE | {
        "patient_weight_kg": None,
        "drugs": [
            drug(generic_name="阿莫西林胶囊", dose=0.5),
            drug(role="suspect", brand_name="天宁"),
        ],
    }
    result = regulatory.completeness(case(**partial))
    assert "patient-weight_kg" in result.missing
    assert "drugs-0-dose" in result.missing  # a dose without its unit
    assert "drugs-1-batch_number" in result.missing and "drugs-1-generic_name" not in result.missing
    # reporter 3, patient 7, 9 for each suspect drug, reaction 6
    total = 3 + 7 + 9 * 2 + 6
    assert result.score == round(100 * (total - len(result.missing)) / total)


def test_a_health_professional_is_also_asked_for_an_organisation():
    result = regulatory.completeness(case(**(FULL_CASE | {"reporter_kind": "physician"})))
    assert result.missing == ["reporter-organization"]
    assert result.score == round(100 * 25 / 26)  # 3 + 1 + 7 + 9 for the one suspect drug + 6


def test_phone_or_email_is_one_item_and_an_age_of_zero_counts():
    result = regulatory.completeness(
        case(
            **(
                FULL_CASE
                | {"reporter_email": None, "reporter_phone": "13912345678", "patient_age": 0}
            )
        )
    )
    assert result.score == 100


def test_an_empty_case_scores_0():
    assert regulatory.completeness(case()).score == 0
