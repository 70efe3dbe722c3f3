"""Every rule of spec/report-form.md: a refused form says what is wrong, where, and keeps all."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from adr import regulatory
from adr.extensions import db
from adr.intake import forms
from adr.models import Report
from tests.conftest import reference_of, valid_report

TODAY = regulatory.china_today()
TOMORROW = (TODAY + timedelta(days=1)).isoformat()
LATEST_EXPIRY = forms.years_after(TODAY, 10)  # printed on a pack: up to ten years from today
# A woman of 30 at the reaction (2026-11-21): the pregnancy question is hers.
WOMAN_OF_30 = {"patient-sex": "female", "patient-birth_date": "1996-03-14", "patient-age": "30"}
AGED = {"patient-birth_date": ""}  # the age alone says how old


class Page(HTMLParser):
    """What a browser shows: elements by id, controls by name with their values, summary links."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.html = html
        self.ids: dict[str, dict[str, str]] = {}
        self.controls: dict[str, list[dict[str, str]]] = {}
        self.shown: dict[str, list[str]] = {}  # what each control shows as filled in
        self.offered: dict[str, set[str]] = {}  # the codes a choice control offers
        self.links: list[str] = []
        self._in_summary = False
        self._select: str | None = None
        self._textarea: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if "id" in attrs:
            self.ids[attrs["id"]] = {"tag": tag, **attrs}
        name = attrs.get("name")
        if tag in ("input", "select", "textarea") and name:
            self.controls.setdefault(name, []).append(attrs)
            shown = self.shown.setdefault(name, [])
            if tag == "input" and attrs.get("type") in ("radio", "checkbox"):
                self.offered.setdefault(name, set()).add(attrs["value"])
                if "checked" in attrs:
                    shown.append(attrs["value"])
            elif tag == "input":
                shown.append(attrs.get("value", ""))
        if tag == "select":
            self._select = name
        if tag == "option" and self._select:
            self.offered.setdefault(self._select, set()).add(attrs["value"])
            if "selected" in attrs:
                self.shown[self._select].append(attrs["value"])
        if tag == "textarea":
            self._textarea = name
            self.shown[name].append("")
        if attrs.get("role") == "alert":
            self._in_summary = True
        if tag == "a" and self._in_summary:
            self.links.append(attrs.get("href", ""))

    def handle_data(self, data):
        if self._textarea:
            self.shown[self._textarea][-1] += data

    def handle_endtag(self, tag):
        if tag == "div":
            self._in_summary = False
        if tag == "select":
            self._select = None
        if tag == "textarea":
            self._textarea = None

    def assert_kept(self, fields: dict[str, object]) -> None:
        """Check every value sent is shown again, as the form stores it."""
        for name, value in fields.items():
            if name in ("csrf_token", "submission_token"):
                continue
            for one in value if isinstance(value, list) else [value]:
                if not one.strip() or (name in self.offered and one not in self.offered[name]):
                    continue  # a code no option offers cannot be shown again
                if name.endswith("batch_number"):
                    one = one.upper()
                if name == "patient-birth_date":  # shown as year, month and day boxes
                    parts = [self.shown[f"{name}-{part}"][0] for part in ("year", "month", "day")]
                    shown = "-".join(p.zfill(2) for p in parts) if all(parts) else parts[0]
                    assert one.strip() == shown, (one, parts)
                    continue
                typed = one.replace("\r\n", "\n").strip()
                assert typed in [v.strip() for v in self.shown[name]], (name, one, self.shown[name])


def refused(sender, changes: dict[str, object], field: str, drop: tuple[str, ...] = ()) -> Page:
    """Send a valid report with `changes`, and check it is refused with an error on `field`."""
    fields = {k: v for k, v in (valid_report() | changes).items() if k not in drop}
    response = sender.send(fields)
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html[:500]
    page = Page(html)
    assert f"#{field}" in page.links, (field, page.links)
    assert page.ids[f"{field}-error"]["class"] == "error"
    assert field in page.ids
    boxes = [f"{field}-{part}" for part in ("year", "month", "day")]  # a date asked in boxes
    shown = [c for c in page.controls.get(field, []) if c.get("type") != "hidden"]
    controls = shown or [c for box in boxes for c in page.controls[box]]
    for control in controls:
        assert control["aria-invalid"] == "true"
        assert f"{field}-error" in control["aria-describedby"].split()
    page.assert_kept(fields)
    with sender.client.application.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Report)) == 0
    return page


def accepted(sender, changes: dict[str, object], drop: tuple[str, ...] = ()) -> str:
    fields = {k: v for k, v in (valid_report() | changes).items() if k not in drop}
    return reference_of(sender.send(fields))


# Reporter.

REPORTER_REFUSALS = [
    ({"reporter-kind": ""}, "reporter-kind"),
    ({"reporter-kind": "robot"}, "reporter-kind"),
    (
        {"reporter-kind": "physician", "reporter-organization_type": ""},
        "reporter-organization_type",
    ),
    (
        {"reporter-kind": "nurse", "reporter-organization_type": "moon"},
        "reporter-organization_type",
    ),
    ({"reporter-organization": "院" * 61}, "reporter-organization"),
    ({"reporter-name": "名" * 101}, "reporter-name"),
    ({"reporter-phone": "12345"}, "reporter-phone"),
    ({"reporter-phone": "1391234567"}, "reporter-phone"),
    ({"reporter-phone": "not a number"}, "reporter-phone"),
    ({"reporter-phone": "", "reporter-email": ""}, "reporter-phone"),
    ({"reporter-email": "wangli@"}, "reporter-email"),
    ({"reporter-email": "a b@example.com"}, "reporter-email"),
    ({"reporter-email": "x@example.com\r\nBcc: victim@example.com"}, "reporter-email"),
]


@pytest.mark.parametrize(("changes", "field"), REPORTER_REFUSALS)
def test_reporter_rules(sender, changes, field):
    refused(sender, changes, field)


def test_an_address_in_chinese_before_the_at_is_refused_with_why(sender):
    """Mail to 王丽@… needs SMTPUTF8, which the mailer cannot write; a Chinese domain is fine."""
    refused(sender, {"reporter-email": "王丽@example.com"}, "reporter-email")
    html = sender.send(valid_report() | {"reporter-email": "王丽@example.com"}).get_data(True)
    assert "wangli@example.com" in html  # the message's example: the typed value is 王丽@…
    accepted(sender, {"reporter-email": "wangli@例子.中国"})


def test_privacy_consent_is_required(sender):
    refused(sender, {}, "reporter-consent_privacy", drop=("reporter-consent_privacy",))


@pytest.mark.parametrize(
    "phone",
    ["139 1234 5678", "0912-5647197", "400-840-1008", "+86 138 0013 8000", "+44 20 7946 0958"],
)
def test_phone_numbers_the_spec_calls_valid_are_accepted(sender, phone):
    accepted(sender, {"reporter-phone": phone})


def test_a_patient_needs_no_organisation_type(sender):
    accepted(sender, {"reporter-kind": "patient"}, drop=("reporter-organization_type",))


def test_phone_alone_or_email_alone_is_enough(sender):
    accepted(sender, {"reporter-email": ""})
    accepted(sender, {"reporter-phone": ""})


# Patient.

PATIENT_REFUSALS = [
    # Not identifiable: none of initials, a known sex, an age, a date of birth (revised 2026-12).
    (
        {
            "patient-name": "不详",
            "patient-sex": "unknown",
            "patient-birth_date": "",
            "patient-age": "",
        },
        "patient-name",
    ),
    ({"patient-name": "名" * 61}, "patient-name"),
    ({"patient-sex": "other"}, "patient-sex"),
    ({"patient-birth_date": TOMORROW, "patient-age": ""}, "patient-birth_date"),
    ({"patient-birth_date": "2026-11-22", "patient-age": ""}, "patient-birth_date"),
    ({"patient-birth_date": "14/03/1958"}, "patient-birth_date"),
    ({"patient-birth_date": "1958-02-30"}, "patient-birth_date"),
    ({"patient-birth_date": "1858-03-14", "patient-age": ""}, "patient-birth_date"),
    ({"patient-birth_date": "", "patient-age": "151"}, "patient-age"),
    ({"patient-birth_date": "", "patient-age": "-1"}, "patient-age"),
    ({"patient-birth_date": "", "patient-age": "1801", "patient-age_unit": "month"}, "patient-age"),
    ({"patient-birth_date": "", "patient-age": "3661", "patient-age_unit": "day"}, "patient-age"),
    ({"patient-birth_date": "", "patient-age": "45.5"}, "patient-age"),
    ({"patient-birth_date": "", "patient-age": "forty"}, "patient-age"),
    ({"patient-age": "45"}, "patient-age"),  # born 1958, reaction 2026: 68
    ({"patient-age_unit": "week"}, "patient-age_unit"),
    ({"patient-weight_kg": "0.2"}, "patient-weight_kg"),
    ({"patient-weight_kg": "501"}, "patient-weight_kg"),
    ({"patient-weight_kg": "heavy"}, "patient-weight_kg"),
    ({"patient-weight_kg": "NaN"}, "patient-weight_kg"),
    ({"patient-weight_kg": "Infinity"}, "patient-weight_kg"),
    ({"patient-weight_kg": "62.12345"}, "patient-weight_kg"),
    ({"patient-phone": "12345"}, "patient-phone"),
    ({"patient-ethnicity": "族" * 21}, "patient-ethnicity"),
    ({"patient-disease": "病" * 501}, "patient-disease"),
    ({"patient-hospital": "院" * 201}, "patient-hospital"),
    ({"patient-record_number": "1" * 21}, "patient-record_number"),
    ({"patient-past_adr": "maybe"}, "patient-past_adr"),
    ({"patient-past_adr_detail": ""}, "patient-past_adr_detail"),
    ({"patient-past_adr_detail": "疹" * 501}, "patient-past_adr_detail"),
    ({"patient-family_adr": "yes"}, "patient-family_adr_detail"),
    ({"patient-family_adr": "perhaps"}, "patient-family_adr"),
    ({"patient-history": ["smoking", "gambling"]}, "patient-history"),
    ({"patient-sex": "male", "patient-history": ["pregnancy"]}, "patient-history"),
    ({"patient-history": ["other"], "patient-history_detail": ""}, "patient-history_detail"),
    ({"patient-history_detail": ""}, "patient-history_detail"),  # allergy is ticked
    # Was she pregnant (the holder's form, asked of a woman of 12 to 55 at the reaction).
    ({"patient-pregnant": "perhaps"}, "patient-pregnant"),
    (WOMAN_OF_30 | {"patient-sex": "male", "patient-pregnant": "yes"}, "patient-pregnant"),
    ({"patient-pregnant": "yes"}, "patient-pregnant"),  # born 1958: 68 at the reaction
    (AGED | {"patient-age": "56", "patient-pregnant": "yes"}, "patient-pregnant"),
    (AGED | {"patient-age": "11", "patient-pregnant": "yes"}, "patient-pregnant"),
    (
        AGED | {"patient-age": "130", "patient-age_unit": "month", "patient-pregnant": "yes"},
        "patient-pregnant",
    ),
    (
        WOMAN_OF_30 | {"patient-history": ["pregnancy", "allergy"], "patient-pregnant": "no"},
        "patient-pregnant",
    ),  # 妊娠期 ticked: she was
]


@pytest.mark.parametrize(("changes", "field"), PATIENT_REFUSALS)
def test_patient_rules(sender, changes, field):
    refused(sender, changes, field)


@pytest.mark.parametrize(
    "changes",
    [
        {"patient-age": "", "patient-birth_date": "1958-03-14"},
        {"patient-birth_date": "", "patient-age": "68"},
        {"patient-age": "67"},  # within one year of the birth date
        {"patient-age": "69"},
        {"patient-birth_date": "2026-11-21", "patient-age": "0", "patient-age_unit": "day"},
        {
            "patient-birth_date": TODAY.isoformat(),
            "event-onset_date": TODAY.isoformat(),
            "patient-age": "",
        },
        {"patient-weight_kg": "0.3"},
        {"patient-weight_kg": "500"},
        {"patient-weight_kg": "3,5"},
        {"patient-sex": "female", "patient-history": ["pregnancy"]},
        {"patient-sex": "unknown", "patient-history": ["pregnancy"]},
        {"patient-history": ["smoking"], "patient-history_detail": ""},
        {"patient-past_adr": "no", "patient-past_adr_detail": ""},
    ],
)
def test_patient_answers_that_are_accepted(sender, changes):
    accepted(sender, changes)


WITH = ["smoking", "pregnancy", "allergy"]  # yes is the history's 妊娠期 too


@pytest.mark.parametrize(
    ("changes", "pregnant", "history"),
    [
        (WOMAN_OF_30 | {"patient-pregnant": "yes"}, "yes", WITH),
        (WOMAN_OF_30 | {"patient-pregnant": "unknown"}, "unknown", ["smoking", "allergy"]),
        (WOMAN_OF_30 | {"patient-history": ["pregnancy"]}, "yes", ["pregnancy"]),  # the 2011 way
        (AGED | {"patient-age": "12", "patient-pregnant": "yes"}, "yes", WITH),
        (AGED | {"patient-age": "55", "patient-pregnant": "no"}, "no", None),
        (AGED | {"patient-age": "", "patient-pregnant": "yes"}, "yes", WITH),  # age not known
        ({"patient-pregnant": "no"}, None, None),  # 68: the question was not hers, not kept
        (WOMAN_OF_30 | {"patient-sex": "male", "patient-pregnant": "no"}, None, None),
        ({"patient-sex": "unknown", "patient-pregnant": "unknown"}, None, None),  # still 68
    ],
)
def test_what_is_kept_of_the_pregnancy_answer(app, sender, changes, pregnant, history):
    reference = accepted(sender, changes)
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        assert report.patient_pregnant == pregnant
        assert report.patient_history == (history or valid_report()["patient-history"])


def test_an_age_without_a_unit_counts_in_years(app, sender):
    reference = accepted(
        sender, {"patient-birth_date": "", "patient-age": "68", "patient-age_unit": ""}
    )
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        assert (report.patient_age, report.patient_age_unit) == (68, "year")


# Drugs.

DRUG_REFUSALS = [
    ({"drugs-0-role": "concomitant"}, "drugs-0-role"),  # no suspect drug left
    ({"drugs-0-role": "culprit"}, "drugs-0-role"),
    ({"drugs-0-generic_name": "", "drugs-0-brand_name": ""}, "drugs-0-generic_name"),
    ({"drugs-1-generic_name": "", "drugs-1-brand_name": ""}, "drugs-1-generic_name"),
    ({"drugs-0-generic_name": "药" * 201}, "drugs-0-generic_name"),
    ({"drugs-0-brand_name": "药" * 201}, "drugs-0-brand_name"),
    ({"drugs-0-approval_number": "H" * 36}, "drugs-0-approval_number"),
    ({"drugs-0-manufacturer": "厂" * 201}, "drugs-0-manufacturer"),
    ({"drugs-0-batch_number": "批号#1"}, "drugs-0-batch_number"),
    ({"drugs-0-batch_number": "２０２６"}, "drugs-0-batch_number"),  # full-width: not as printed
    ({"drugs-0-batch_number": "LOT 2026_1"}, "drugs-0-batch_number"),
    ({"drugs-0-batch_number": "EXP 2027.05 LOT 240517"}, "drugs-0-batch_number"),  # two labels
    ({"drugs-0-batch_number": "LOT:"}, "drugs-0-batch_number"),  # a label with no number
    ({"drugs-0-generic_name": "不详", "drugs-0-brand_name": ""}, "drugs-0-generic_name"),
    ({"drugs-0-batch_number": "A_1"}, "drugs-0-batch_number"),
    ({"drugs-0-batch_number": "1" * 36}, "drugs-0-batch_number"),
    ({"drugs-0-dose": "0"}, "drugs-0-dose"),
    ({"drugs-0-dose": "-1"}, "drugs-0-dose"),
    ({"drugs-0-dose": "half"}, "drugs-0-dose"),
    ({"drugs-0-dose_unit": ""}, "drugs-0-dose_unit"),
    ({"drugs-0-dose_unit": "bucket"}, "drugs-0-dose_unit"),
    ({"drugs-0-route": "ear"}, "drugs-0-route"),
    ({"drugs-0-frequency": "次" * 51}, "drugs-0-frequency"),
    ({"drugs-0-start_date": TOMORROW, "drugs-0-end_date": ""}, "drugs-0-start_date"),
    ({"drugs-0-end_date": "2026-11-19"}, "drugs-0-end_date"),
    ({"drugs-0-end_date": TOMORROW}, "drugs-0-end_date"),
    ({"drugs-0-start_date": "yesterday"}, "drugs-0-start_date"),
    ({"drugs-0-indication": "因" * 201}, "drugs-0-indication"),
    ({"drugs-0-strength": "g" * 61}, "drugs-0-strength"),
    ({"drugs-0-expiry_date": "2027.05"}, "drugs-0-expiry_date"),
    ({"drugs-0-expiry_date": "2027-02-30"}, "drugs-0-expiry_date"),
    (
        {"drugs-0-expiry_date": (LATEST_EXPIRY + timedelta(days=1)).isoformat()},
        "drugs-0-expiry_date",
    ),
    ({"drugs-0-expiry_date": "2016-11-19"}, "drugs-0-expiry_date"),  # started 2026-11-20
    ({"drugs-1-expiry_date": "1999-12-31"}, "drugs-1-expiry_date"),
    (
        {"drugs-0-start_date": "", "drugs-0-end_date": "", "drugs-0-expiry_date": "2016-11-20"},
        "drugs-0-expiry_date",
    ),  # no date of use: ten years before the reaction (2026-11-21)
]


@pytest.mark.parametrize(("changes", "field"), DRUG_REFUSALS)
def test_drug_rules(sender, changes, field):
    refused(sender, changes, field)


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("-20260101", "-20260101"),
        ("l2026/03.1", "L2026/03.1"),
        ("LOT 240517a", "240517A"),
        ("Lot No. 240517a", "240517A"),
        ("LOT:12-3", "12-3"),
        ("批号：2026 0315", "20260315"),
        ("生产批号 A1", "A1"),
        ("2026 0315", "20260315"),
        ("LOT240517", "240517"),
        ("Batch No. 240517", "240517"),
        ("B.No. 240517", "240517"),
        ("批号/LOT 2405", "2405"),
        ("B12", "B12"),
    ],
)
def test_batch_numbers_lose_label_and_spaces_and_are_kept_upper_case(app, sender, typed, kept):
    reference = accepted(sender, {"drugs-0-batch_number": typed})
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        assert report.drugs[0].batch_number == kept


def test_a_drug_named_only_by_brand_is_accepted(sender):
    accepted(sender, {"drugs-0-generic_name": ""})


@pytest.mark.parametrize(
    "expiry",
    [
        LATEST_EXPIRY.isoformat(),
        "2016-11-20",  # ten years before the drug was started
        "2026-10-31",  # expired before the reaction: a fact to report, not a mistake
    ],
)
def test_expiry_dates_within_ten_years_are_kept(app, sender, expiry):
    reference = accepted(sender, {"drugs-0-expiry_date": expiry, "drugs-0-strength": "0.25g"})
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        drug = report.drugs[0]
        assert (drug.expiry_date.isoformat(), drug.strength) == (expiry, "0.25g")


# The reaction.

EVENT_REFUSALS = [
    ({"event-name": ""}, "event-name"),
    ({"event-name": "疹" * 251}, "event-name"),
    ({"event-name": "不详"}, "event-name"),  # a placeholder names no reaction
    ({"event-name": ":"}, "event-name"),
    ({"event-onset_date": TOMORROW}, "event-onset_date"),
    ({"event-onset_date": "2026-13-01"}, "event-onset_date"),
    ({"event-description": "述" * 5001}, "event-description"),
    ({"event-outcome": "fine"}, "event-outcome"),
    ({"event-outcome": "sequelae"}, "event-sequelae_detail"),
    ({"event-outcome": "death", "event-death_date": "2026-11-22"}, "event-death_cause"),
    ({"event-outcome": "death", "event-death_cause": "休克"}, "event-death_date"),
    (
        {"event-outcome": "death", "event-death_cause": "休克", "event-death_date": "2026-11-20"},
        "event-death_date",
    ),
    (
        {"event-outcome": "death", "event-death_cause": "休克", "event-death_date": TOMORROW},
        "event-death_date",
    ),
    ({"event-serious": ["death"]}, "event-serious"),
    ({"event-serious": ["boring"]}, "event-serious"),
    ({"event-dechallenge": "sometimes"}, "event-dechallenge"),
    ({"event-rechallenge": "sometimes"}, "event-rechallenge"),
    ({"event-disease_impact": "cured"}, "event-disease_impact"),
    ({"event-causality": "obvious"}, "event-causality"),
    ({"event-sequelae_detail": "麻" * 501}, "event-sequelae_detail"),
    ({"remarks": "注" * 2001}, "remarks"),
    ({"event-province": "省" * 51}, "event-province"),
    ({"event-city": "市" * 51, "event-province": "陕西省"}, "event-city"),
]


@pytest.mark.parametrize(("changes", "field"), EVENT_REFUSALS)
def test_event_rules(sender, changes, field):
    refused(sender, changes, field)


@pytest.mark.parametrize(
    "empty",
    [
        ("reporter-name",),
        ("patient-sex",),
        ("patient-birth_date", "patient-age"),
        ("patient-name", "patient-birth_date", "patient-age"),  # the sex identifies
        ("event-onset_date",),
        ("event-description",),
        ("event-outcome",),
    ],
)
def test_what_only_helps_the_assessment_never_blocks_sending(sender, empty):
    """Revised 2026-12: a valid case and a way to reach the reporter; the rest is prompted."""
    accepted(sender, {}, drop=empty)


@pytest.mark.parametrize(
    ("boxes", "message"),
    [
        (("1964", "", ""), "请把月和日也填上"),
        (("64", "3", "1"), "请用四位数填写年份"),
        (("1958", "2", "30"), "没有这一天"),
        (("19640", "3", "1"), "请用数字填写年、月、日"),
        (("一九六四", "3", "1"), "请用数字填写年、月、日"),
    ],
)
def test_the_birth_date_boxes_say_what_to_put_right(sender, boxes, message):
    fields = valid_report() | {"patient-birth_date": "", "patient-age": ""}
    fields |= dict(zip(("patient-birth_date-year", "patient-birth_date-month",
                        "patient-birth_date-day"), boxes, strict=True))  # fmt: skip
    response = sender.send(fields)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="patient-birth_date-error"' in html
    assert message in html.split('id="patient-birth_date-error">')[1].split("</p>")[0]


def test_the_birth_date_boxes_take_full_width_digits(sender):
    fields = valid_report() | {"patient-birth_date": "", "patient-age": ""}
    fields |= {"patient-birth_date-year": "１９６４", "patient-birth_date-month": "3",
               "patient-birth_date-day": "1"}  # fmt: skip
    accepted(sender, fields)


def test_a_short_description_is_enough(sender):
    accepted(sender, {"event-description": "全身起疹子很痒"})  # 7 characters


def test_any_one_thing_about_the_patient_identifies_them(sender):
    nothing = {"patient-name": "", "patient-sex": "", "patient-birth_date": "", "patient-age": ""}
    for one in ({"patient-name": "ZS"}, {"patient-sex": "female"}, {"patient-age": "62"},
                {"patient-birth_date": "1964-03-01"}):  # fmt: skip
        accepted(sender, nothing | one)


def test_todays_date_in_china_is_not_the_future(sender):
    accepted(sender, {"event-onset_date": TODAY.isoformat(), "drugs-0-end_date": ""})


def test_a_refused_form_keeps_a_new_drug_row_and_its_token(sender):
    fields = valid_report() | {
        "drugs-2-role": "interacting",
        "drugs-2-generic_name": "华法林钠片",
        "event-name": "",
        "submission_token": "my-token-1234567890",
    }
    response = sender.send(fields)
    assert response.status_code == 422
    page = Page(response.get_data(as_text=True))
    assert page.controls["drugs-2-generic_name"][0]["value"] == "华法林钠片"
    assert page.controls["submission_token"][0]["value"] == "my-token-1234567890"


def test_the_error_summary_lists_errors_in_page_order(sender):
    response = sender.send({"reporter-name": "王丽", "drugs-0-role": "suspect"})  # as a browser
    page = Page(response.get_data(as_text=True))
    assert response.status_code == 422
    assert page.links == [
        "#reporter-kind",  # who is reporting comes first (revised 2026-12)
        "#event-name",
        "#drugs-0-generic_name",  # the suspected drug is chosen: its name is what is missing
        "#patient-name",  # none of initials, sex, age or date of birth
        "#reporter-phone",
        "#reporter-consent_privacy",  # beside the send button
    ]


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_every_error_message_is_in_the_page_language(client, sender, lang):
    sender.open(f"/report?lang={lang}")
    fields = {
        "reporter-email": "x@",
        "patient-age": "abc",
        "patient-weight_kg": "x",
        "patient-birth_date": "x",
        "drugs-0-dose": "x",
        "drugs-0-batch_number": "a_b",
        "drugs-0-dose_unit": "zz",
        "event-onset_date": TOMORROW,
        "event-name": "疹" * 251,
        "drugs-0-expiry_date": "2099-01-01",
        "patient-sex": "male",
        "patient-pregnant": "yes",
    }
    response = sender.send(fields)
    html = response.get_data(as_text=True)
    page = Page(html)
    messages = [html.split(f'id="{link[1:]}-error">')[1].split("</p>")[0] for link in page.links]
    assert len(messages) > 10
    for message in messages:
        has_chinese = any("\u4e00" <= char <= "\u9fff" for char in message)
        assert has_chinese == (lang == "zh_CN") or "皮疹" in message, message


@pytest.mark.parametrize(
    ("field", "limit", "value", "checker"),
    [
        ("reporter-email", 254, "a" * 1_000_000 + "@example.com", "validate_email"),
        ("reporter-phone", 30, "1" * 1_000_000, "phone_e164"),
        ("patient-phone", 30, "+86" + "9" * 999_997, "phone_e164"),
    ],
)
def test_a_megabyte_in_a_checked_field_is_refused_for_its_length_alone(
    sender, monkeypatch, field, limit, value, checker
):
    """The length check stops the chain: the e-mail and phone checks never read the megabyte."""
    lengths_read = []
    check = getattr(forms, checker)
    monkeypatch.setattr(
        forms,
        checker,
        lambda text, *a, **kw: lengths_read.append(len(text)) or check(text, *a, **kw),
    )
    page = refused(sender, {field: value}, field)
    assert max(lengths_read, default=0) < 100  # only the other, valid phone number was read
    message = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', page.html)
    assert message is not None and message.group(1) == (
        f"请缩短到 {limit} 个字以内（现在 {len(value)} 个字）。"
    )
