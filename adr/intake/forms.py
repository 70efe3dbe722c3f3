"""The public report form: the sections of the national form and their rules."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, cast

import phonenumbers
import sqlalchemy as sa
from babel import support
from email_validator import EmailNotValidError, validate_email
from flask import current_app, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.i18n import translations as wtforms_translations
from markupsafe import Markup
from werkzeug.datastructures import FileStorage, MultiDict
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.i18n import messages_path
from wtforms.utils import unset_value
from wtforms.validators import StopValidation, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget, TextArea

from adr import regulatory, vocab
from adr.cases import literature, merges
from adr.extensions import db
from adr.i18n import current_language, lazy_term
from adr.inbox import documents
from adr.models import Drug, Report

MAX_DRUGS = 20
PRESET = ("-role", "-age_unit", "-consent_privacy", "-consent_contact")  # no news in these
DRUG_ROW_KEY = re.compile(r"drugs-(\d+)-")
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
BATCH_RE = re.compile(r"[A-Z0-9./-]{1,35}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")
EARLIEST_DATE = date(1900, 1, 1)
# The page's order: what happened first, who reports it last; fields shown outside their section.
DRUG_ROW_NAME = re.compile(r"^drugs-\d+-")  # a drug row's field, as vocab names it: drug-
PAGE_ORDER = (
    *("case", "literature", "reporter-kind", "reporter-organization_type", "reporter-organization"),
    *("event", "event_files", "drugs", "drug_files", "patient", "reporter", "follow_up_of"),
    "remarks",
    "reporter-consent_privacy",
)
# The link printed on a pack (`adr qr`): each query parameter, and the suspect drug's field.
PACK_FIELDS = {
    "product": "generic_name",
    "brand": "brand_name",
    "approval": "approval_number",
    "batch": "batch_number",
}


# The format rules' messages, one source for the server's checks and the page's own as a
# step is left (`data-rules` on the form, read by form.js): the server stays the judge.
RULES = {
    "future": _l("This date is in the future: check the day, month and year."),
    "before_1900": _l("Check the year: it is before 1900."),
    "date_boxes": _l("Enter the year, month and day as numbers, for example 1964, 3, 1."),
    "date_boxes_partial": _l(
        "Give the month and the day too; if you do not know them, leave the date empty and give "
        "the age below."
    ),
    "date_boxes_year": _l("Give the year with four digits, for example 1964."),
    "date_boxes_no_such_day": _l("There is no such day: check the year, month and day."),
    "email": _l("Enter an e-mail address such as name@example.com."),
    "email_latin": _l(
        "We can only write to an address with Latin letters or digits before the @, "
        "such as wangli@example.com: give another address, or a phone number."
    ),
    "phone": _l(
        "Enter a phone number we can call, such as 139 1234 5678 or 0912-5647197; "
        "add + and the country code for a number outside China."
    ),
    "birth_after_onset": _l("The date of birth is after the reaction started: check both dates."),
    "stopped_before_started": _l("The drug cannot have stopped before it started."),
    "death_before_onset": _l("The date of death is before the reaction started: check both dates."),
    "expiry": _l(
        "Check the expiry date on the pack: it cannot be more than ten years before the medicine "
        "was taken, or more than ten years from today."
    ),
}
EXPIRY_YEARS = 10  # an expiry date this far before the drug was used, or from today, is a typo


def clean_text(value: Any) -> Any:
    """Strip, turn CRLF into LF and drop C0 controls other than tab and LF; empty becomes None."""
    if not isinstance(value, str):
        return value
    value = _CONTROL.sub("", value.replace("\r\n", "\n")).strip()
    return value or None


@cache
def label(name: str) -> Any:
    """Return a field's label, rendering in the page language."""
    return lazy_term(
        vocab.FIELDS.get(name) or vocab.HOLDER_FIELDS.get(name) or vocab.RECORD_FIELDS[name]
    )


def options(codes: vocab.CodeList, blank: bool = False) -> list[SelectChoice]:
    """Return the choices of a code list, labelled in the page language."""
    choices = [SelectChoice(code, lazy_term(term)) for code, term in codes.items()]
    return [SelectChoice("", _l("Choose…")), *choices] if blank else choices


def page_options(codes: vocab.CodeList, blank: bool = False) -> list[SelectChoice]:
    """Return the choices of a code list in this request's language, built once per language."""
    return _options_in(tuple(codes.items()), blank, current_language())


@cache
def _options_in(
    terms: tuple[tuple[str, vocab.Term], ...], blank: bool, language: str
) -> list[SelectChoice]:
    choices = [SelectChoice(code, term.text(language)) for code, term in terms]
    return [SelectChoice("", _l("Choose…")), *choices] if blank else choices


# Fields whose messages are ours, so they read in the page's language.


class Text(StringField):
    def __init__(
        self, key: str, max_length: int, validators: Iterable[Any] = (), **kwargs: Any
    ) -> None:
        super().__init__(
            label(key),
            validators=[MaxLength(max_length), *validators],
            filters=[clean_text],
            **kwargs,
        )


class LongText(Text):
    widget = TextArea()


class Date(DateField):
    def __init__(self, key: str, **kwargs: Any) -> None:
        kwargs.setdefault("validators", [PlausibleDate()])
        super().__init__(label(key), **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        try:
            self.data = date.fromisoformat(str(valuelist[0]).strip())
        except ValueError:
            self.data = None
            raise ValueError(
                _l("Enter the date as year-month-day, for example 2026-11-20.")
            ) from None


class ExpiryDate(Date):
    """The expiry date printed on a pack (有效期至): it may be to come. Its range, from the
    drug's use and today, is checked with the report (`ReportForm._check_drugs`)."""

    def __init__(self, key: str, **kwargs: Any) -> None:
        super().__init__(key, **{"validators": [], **kwargs})


def years_after(day: date, years: int) -> date:
    """Return the same day `years` later (earlier when negative); 29 February as the 28th."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def expiry_limit() -> date:
    """Return the latest expiry date a pack may print: ten years from today (China)."""
    return years_after(regulatory.china_today(), EXPIRY_YEARS)


class DateBoxes(Date):
    """A date asked as year, month and day boxes (`<name>-year`, `-month`, `-day`; the GOV.UK
    pattern: no calendar to scroll through decades). `<name>` as YYYY-MM-DD is read too."""

    PARTS = ("year", "month", "day")

    def process(self, formdata: Any, data: Any = unset_value, **kwargs: Any) -> None:
        self.parts = {part: "" for part in self.PARTS}
        if formdata is not None and not (formdata.get(self.name) or "").strip():
            typed = {
                part: (formdata.get(f"{self.name}-{part}") or "").strip() for part in self.PARTS
            }
            if any(typed.values()):
                self.parts = {part: value[:10] for part, value in typed.items()}
                formdata = MultiDict({self.name: self.joined()})
        super().process(formdata, data, **kwargs)
        if any(self.parts.values()):
            return
        if self.data:
            self.parts = {"year": str(self.data.year), "month": str(self.data.month),
                          "day": str(self.data.day)}  # fmt: skip
        elif self.raw_data and str(self.raw_data[0]).strip():  # sent whole, and not a date:
            self.parts["year"] = str(self.raw_data[0]).strip()  # shown again to be corrected

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            if not any(self.parts.values()):
                raise
            raise ValueError(RULES[self.problem()]) from None

    def typed(self) -> list[str]:
        """Return the year, month and day as typed, full-width digits read as digits."""
        return [unicodedata.normalize("NFKC", self.parts[part]) for part in self.PARTS]

    def problem(self) -> str:
        """Return which rule the boxes break (a key of RULES), as form.js says it too; for
        boxes of four, two and two digits, "no such day" (they are checked as a date after)."""
        parts = self.typed()
        if not all(p.isascii() and p.isdigit() and len(p) <= 4 for p in parts if p):
            return "date_boxes"
        if not all(parts):
            return "date_boxes_partial"
        return "date_boxes_year" if len(parts[0]) != 4 else "date_boxes_no_such_day"

    def joined(self) -> str:
        """Return the boxes as YYYY-MM-DD, or a text the date check refuses."""
        if self.problem() != "date_boxes_no_such_day":
            return "?"
        year, month, day = (int(p) for p in self.typed())
        return f"{year:04d}-{month:02d}-{day:02d}"


class WholeNumber(IntegerField):
    def process_formdata(self, valuelist: list[Any]) -> None:
        text = str(valuelist[0]).strip() if valuelist else ""
        self.data = None
        if text:
            try:
                self.data = int(text)
            except ValueError:
                raise ValueError(_l("Enter a whole number, for example 45.")) from None


class Number(DecimalField):
    """A decimal of at most 4 places, stored as a float."""

    def __init__(self, key: str, low: Decimal, high: Decimal, **kwargs: Any) -> None:
        super().__init__(label(key), places=None, **kwargs)
        self.low, self.high = low, high

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = str(valuelist[0]).strip().replace(",", ".") if valuelist else ""
        self.data = None
        if not text:
            return
        try:
            number = Decimal(text)
        except (InvalidOperation, ValueError):
            raise ValueError(_l("Enter a number, for example 0.5.")) from None
        if not number.is_finite() or not self.low <= number <= self.high:
            raise ValueError(
                _l("Enter a number from %(low)s to %(high)s.", low=self.low, high=self.high)
            )
        if number.as_tuple().exponent < -4:  # type: ignore[operator]
            raise ValueError(_l("Use at most 4 decimal places."))
        self.data = number

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else plain_number(self.data)


def plain_number(value: float | Decimal) -> str:
    """Return a number as people write it: 3, 2.5, 10; no trailing zeros, never 1E+1."""
    return format(Decimal(str(value)).normalize(), "f")


def coded(
    key: str, codes: vocab.CodeList, blank: bool = False, tidy: Any = clean_text
) -> dict[str, Any]:
    """Return the arguments of a field that picks from one code list, refusing unknown codes."""
    return {
        "label": label(key),
        "choices": page_options(codes, blank),
        "validators": [KnownCode(codes)],
        "validate_choice": False,
        "filters": [tidy],
    }


class Choice(SelectField):
    """A drop-down of one code list; an unknown code is refused with our message."""

    def __init__(self, key: str, codes: vocab.CodeList, **kwargs: Any) -> None:
        super().__init__(**coded(key, codes, blank=True), **kwargs)


class Radio(RadioField):
    def __init__(self, key: str, codes: vocab.CodeList, **kwargs: Any) -> None:
        super().__init__(**coded(key, codes), **kwargs)


class Checkboxes(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def __init__(self, key: str, codes: vocab.CodeList, **kwargs: Any) -> None:
        super().__init__(**coded(key, codes, tidy=unique_codes), **kwargs)


def unique_codes(values: Any) -> list[str]:
    """Return the ticked codes once each, in the order given."""
    return list(dict.fromkeys(values or []))


# Validators.


class MaxLength:
    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, form: Form, field: Any) -> None:
        if field.data and len(field.data) > self.limit:
            # Stops the chain: no later check (e-mail, phone) reads a value of any length.
            raise StopValidation(
                _l(
                    "Shorten this to %(limit)s characters or fewer (now %(length)s).",
                    limit=self.limit,
                    length=len(field.data),
                )
            )


class KnownCode:
    def __init__(self, codes: vocab.CodeList) -> None:
        self.codes = codes

    def __call__(self, form: Form, field: Any) -> None:
        values = field.data if isinstance(field.data, list) else [field.data]
        if any(value and value not in self.codes for value in values):
            raise ValidationError(_l("Choose one of the options shown."))


class PlausibleDate:
    def __call__(self, form: Form, field: Any) -> None:
        if field.data is None:
            return
        if field.data > regulatory.china_today():
            raise ValidationError(RULES["future"])
        if field.data < EARLIEST_DATE:
            raise ValidationError(RULES["before_1900"])


def email_validator(form: Form, field: Any) -> None:
    if not field.data:
        return
    try:
        address = validate_email(field.data, check_deliverability=False)
    except EmailNotValidError:
        raise ValidationError(RULES["email"]) from None
    if not address.local_part.isascii():  # 王丽@…: SMTPUTF8, which our mail cannot carry
        raise ValidationError(RULES["email_latin"])


def phone_validator(form: Form, field: Any) -> None:
    if field.data and phone_e164(field.data) is None:
        raise ValidationError(RULES["phone"])


def phone_e164(text: str | None) -> str | None:
    """Return the E.164 form of a valid phone number (China by default), else None."""
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


BATCH_LABEL = re.compile(
    r"^(?:(?:生产)?批号(?:\s*/\s*LOT)?\s*[:：.]?"
    r"|(?:LOT|BATCH|B\.)(?:\s*NO\.?|\s*NUMBER)?(?:\s*[:：.]|\s)|LOT(?=\d))",
    re.IGNORECASE,
)
NOT_A_BATCH = re.compile(r"LOT|BATCH|EXP|MFG|MFD")  # a second label: more than the batch typed


def normalize_batch(value: Any) -> Any:
    """Read a batch number as printed: a leading label (LOT, 批号:) and every space removed.

    A label with nothing after it is kept, for the check to refuse.
    """
    if not isinstance(value, str):
        return value
    return compact(BATCH_LABEL.sub("", value.strip(), count=1)) or compact(value) or None


def compact(text: str) -> str:
    return re.sub(r"\s+", "", text).upper()


def drug_from_pack(args: Mapping[str, str]) -> dict[str, str]:
    """Return the suspect drug's fields a pack's link gives: on one line, tidied, cut to length."""
    drug = {}
    for parameter, name in PACK_FIELDS.items():
        value = clean_text(" ".join(args.get(parameter, "").split()))
        if value and name == "batch_number":
            value = normalize_batch(value)
        if value:
            limit = cast(sa.String, Drug.__table__.c[name].type).length
            drug[name] = value[:limit].rstrip()
    return drug


def batch_validator(form: Form, field: Any) -> None:
    if field.data and (not BATCH_RE.fullmatch(field.data) or NOT_A_BATCH.search(field.data)):
        field.data = field.raw_data[0].strip().upper()  # shown again as typed, to be corrected
        raise ValidationError(
            _l(
                "Copy the batch number as printed on the box, without the expiry date or labels "
                "such as EXP: up to 35 half-width letters and digits, with - / or . allowed."
            )
        )


def require(field: Any, message: Any) -> None:
    """Put `message` on `field` when it is empty."""
    if field.data in (None, "", []) and not field.errors:
        field.errors.append(message)


class Files(MultipleFileField):
    """Photos or PDF files sent with a report, named as the page names them (`drugs-files`).

    A page given back cannot hold the files chosen, so they are read from the request only.
    """

    errors: Any

    def __init__(self, label: Any, html_name: str, **kwargs: Any) -> None:
        super().__init__(label, **kwargs)
        self.name = self.id = self.label.field_id = html_name

    def uploads(self) -> list[FileStorage]:
        """Return the files chosen in this field of the posted form (an empty input sends none)."""
        return [upload for upload in request.files.getlist(self.name) if upload.filename]

    def refuse(self, message: Any) -> None:
        self.errors = [*self.errors, message]  # a tuple until the field is validated


# The sections.


class WTFormsMessages:
    """WTForms' own messages in the page language, each language's catalogue read once.

    Flask-WTF's `translations` reads the catalogue from disk again for every request.
    """

    def gettext(self, string: str) -> str:
        return _wtforms_catalogue(str(get_locale())).ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _wtforms_catalogue(str(get_locale())).ungettext(singular, plural, n)


@cache
def _wtforms_catalogue(locale: str) -> support.NullTranslations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


wtforms_messages = WTFormsMessages()


class Section(Form):
    """A sub-form whose few built-in WTForms messages follow the page language."""

    class Meta:
        def get_translations(self, form: Form) -> Any:
            return wtforms_messages


class ReporterForm(Section):
    kind = Radio("reporter-kind", vocab.REPORTER_KIND)
    organization_type = Radio("reporter-organization_type", vocab.ORGANIZATION_TYPE)
    organization = Text("reporter-organization", 60)
    name = Text("reporter-name", 100)
    phone = Text("reporter-phone", 30, validators=[phone_validator])
    email = Text("reporter-email", 254, validators=[email_validator])
    consent_contact = BooleanField(label("reporter-consent_contact"))
    consent_privacy = BooleanField(label("reporter-consent_privacy"))


class PatientForm(Section):
    name = Text("patient-name", 60)
    sex = Radio("patient-sex", vocab.SEX)
    birth_date = DateBoxes("patient-birth_date")
    age = WholeNumber(label("patient-age"))
    age_unit = Choice("patient-age_unit", vocab.AGE_UNIT, default="year")
    ethnicity = Text("patient-ethnicity", 20)
    weight_kg = Number("patient-weight_kg", Decimal("0.3"), Decimal("500"))
    phone = Text("patient-phone", 30, validators=[phone_validator])
    disease = Text("patient-disease", 500)
    hospital = Text("patient-hospital", 200)
    record_number = Text("patient-record_number", 20)
    pregnant = Radio("patient-pregnant", vocab.PREGNANT)
    past_adr = Radio("patient-past_adr", vocab.YES_NO_UNKNOWN)
    past_adr_detail = Text("patient-past_adr_detail", 500)
    family_adr = Radio("patient-family_adr", vocab.YES_NO_UNKNOWN)
    family_adr_detail = Text("patient-family_adr_detail", 500)
    history = Checkboxes("patient-history", vocab.HISTORY)
    history_detail = Text("patient-history_detail", 500)


class DrugForm(Section):
    role = Choice("drug-role", vocab.DRUG_ROLE, default="concomitant")
    approval_number = Text("drug-approval_number", 35)
    brand_name = Text("drug-brand_name", 200)
    generic_name = Text("drug-generic_name", 200)
    dosage_form = Text("drug-dosage_form", 60)  # staff's form only: the catalogue fills it in
    strength = Text("drug-strength", 60)
    manufacturer = Text("drug-manufacturer", 200)
    batch_number = StringField(
        label("drug-batch_number"), validators=[batch_validator], filters=[normalize_batch]
    )
    expiry_date = ExpiryDate("drug-expiry_date")
    dose = Number("drug-dose", Decimal("0.0001"), Decimal("100000"))
    dose_unit = Choice("drug-dose_unit", vocab.DOSE_UNIT)
    route = Choice("drug-route", vocab.ROUTE)
    frequency = Text("drug-frequency", 50)
    start_date = Date("drug-start_date")
    end_date = Date("drug-end_date")
    indication = Text("drug-indication", 200)

    def is_blank(self) -> bool:
        """Tell whether nothing was typed in this row (its role aside)."""
        return all(
            not any(str(value).strip() for value in (field.raw_data or []))
            for name, field in self._fields.items()
            if name != "role"
        )

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.is_blank():
            return valid
        require(self.role, _l("Choose the drug's role."))
        if not (self.brand_name.data or self.generic_name.data):
            require(self.generic_name, _l("Enter the drug's generic name or its brand name."))
        if self.dose.data is not None:
            require(self.dose_unit, _l("Choose the unit of the dose."))
        start, end = self.start_date.data, self.end_date.data
        if start and end and end < start and not self.end_date.errors:
            self.end_date.errors.append(RULES["stopped_before_started"])
        return valid and not self.errors


class EventForm(Section):
    name = Text("event-name", 250)
    onset_date = Date("event-onset_date")
    province = Text("event-province", 50)
    city = Text("event-city", 50)
    description = LongText("event-description", 5000)
    outcome = Radio("event-outcome", vocab.OUTCOME)
    sequelae_detail = Text("event-sequelae_detail", 500)
    death_cause = Text("event-death_cause", 200)
    death_date = Date("event-death_date")
    dechallenge = Radio("event-dechallenge", vocab.DECHALLENGE)
    rechallenge = Radio("event-rechallenge", vocab.RECHALLENGE)
    disease_impact = Radio("event-disease_impact", vocab.DISEASE_IMPACT)
    serious = Checkboxes("event-serious", vocab.SERIOUSNESS)
    causality = Radio("event-causality", vocab.CAUSALITY)


class ReportForm(FlaskForm):
    """The whole report, as the national form asks for it."""

    class Meta:
        def get_translations(self, form: Form) -> Any:
            chosen = FlaskForm.Meta.get_translations(self, form)
            return wtforms_messages if chosen is wtforms_translations else chosen

    submission_token = HiddenField()
    website = StringField(filters=[clean_text])  # honeypot: hidden from people, filled by bots
    follow_up_of = StringField(label("follow_up_of"), filters=[clean_text])
    reporter = FormField(ReporterForm)
    patient = FormField(PatientForm)
    drugs = FieldList(FormField(DrugForm), min_entries=1, max_entries=MAX_DRUGS)
    event = FormField(EventForm)
    remarks = LongText("remarks", 2000)
    # The pack with its batch number, the rash: photos or PDFs, PUBLIC_UPLOAD_COUNT in all.
    event_files = Files(_l("Photos of the reaction"), "event-files")
    drug_files = Files(_l("Photos of the medicines"), "drugs-files")

    first_report_id: int | None = None
    case_known_since: date | None = None  # the day we first knew of the case followed up
    # A reference typed on the public form is a claim, not a credential: the report opens a case
    # of its own saying which it follows up, until staff confirm it. Staff and the private link
    # of an acknowledgement add a follow-up to its case.
    trusted_follow_up = False
    claimed_follow_up_of: str | None = None
    rows_beyond_limit = False
    public = True  # sent from the web: the privacy consent is asked
    complete = True  # requires what makes a valid case; staff and follow-ups add what they know

    @property
    def audience(self) -> str:
        """Who the form speaks to, as far as it knows: a health professional or anyone else."""
        return "hcp" if self.reporter.form.kind.data in vocab.HEALTH_PROFESSIONALS else "lay"

    def use_plain_words(self) -> None:
        """Label the form for the public: plain words for patients and relatives, the official
        term for health professionals (both given; the page shows one, `audience`)."""
        language = current_language()

        def worded(plain: vocab.Term, official: str, key: str) -> Any:
            if key in vocab.PLAIN_FOR_ALL or plain.text(language) == str(official):
                return plain.text(language)
            return Markup('<span class="lay">{}</span><span class="hcp">{}</span>').format(
                plain.text(language), official
            )

        for field in _walk(self):
            key = DRUG_ROW_NAME.sub("drug-", field.name)
            if key in vocab.PUBLIC_FIELDS:
                field.label.text = worded(vocab.PUBLIC_FIELDS[key], field.label.text, key)
            codes = vocab.PUBLIC_CODES.get(key, {})
            if codes and field.choices:
                field.choices = [
                    SelectChoice(c.value, worded(codes[c.value], str(c.label), key))
                    if c.value in codes
                    else c
                    for c in field.choices
                ]

    def need(self, field: Any, message: Any) -> None:
        """Require `field` on a form that must make a valid case on its own."""
        if self.complete:
            require(field, message)

    @classmethod
    def posted(cls) -> ReportForm:
        """Return the posted form; drug rows past the limit are noted, and no field is built."""
        kept: MultiDict[str, Any] = MultiDict()
        beyond = False
        for key, value in request.form.items(multi=True):
            row = DRUG_ROW_KEY.match(key)
            if row and (len(row.group(1)) > 3 or int(row.group(1)) >= MAX_DRUGS):
                beyond = True
            else:
                kept.add(key, value)
        form = cls(formdata=kept)
        form.rows_beyond_limit = beyond
        return form

    @classmethod
    def blank(
        cls,
        drug_rows: int = 1,
        follow_up_of: str | None = None,
        submission_token: str | None = None,
        suspect_drug: Mapping[str, str] | None = None,
    ) -> ReportForm:
        """Return an empty form with a fresh token, one suspect row and `drug_rows` rows in all.

        `suspect_drug` fills in fields of the suspect row (`drug_from_pack`).
        """
        form = cls(
            formdata=None,
            data={
                "submission_token": submission_token or new_token(),
                "follow_up_of": follow_up_of,
                "drugs": [{"role": "suspect", **(suspect_drug or {})}],
            },
        )
        while len(form.drugs) < drug_row_count(drug_rows):
            form.drugs.append_entry()
        return form

    def change_drug_rows(self, posted: MultiDict[str, Any]) -> str | None:
        """Add a drug row or remove the one named, as the button pressed asks (no script needed).

        Return why not when the form already holds the most rows it may.
        """
        if "remove_drug" in posted:
            entries = self.drugs.entries
            if len(entries) > 1:
                entries[:] = [e for e in entries if e.name != posted["remove_drug"]]
            return None
        if len(self.drugs) >= MAX_DRUGS:
            return str(_l("A report can list at most %(limit)s drugs.", limit=MAX_DRUGS))
        self.drugs.append_entry()
        return None

    def token(self) -> str:
        """Return the submission token, or a fresh one in place of a missing or malformed one."""
        token = self.submission_token.data or ""
        if not TOKEN_RE.fullmatch(token):
            token = new_token()
            self.submission_token.data = token
        return token

    def file_fields(self) -> list[Files]:
        return [self.event_files, self.drug_files]  # in the page's order

    def accepted_files(self) -> list[documents.Accepted]:
        """Return the photos and PDFs sent with the form, made safe; why one is refused, or
        that too many were sent, goes at its field."""
        config = current_app.config
        sent = [(field, upload) for field in self.file_fields() for upload in field.uploads()]
        most = config["PUBLIC_UPLOAD_COUNT"]
        if len(sent) > most:
            sent[most][0].refuse(
                _l(
                    "Send at most %(most)s photos or PDF files with a report: %(count)s were "
                    "chosen.",
                    most=most,
                    count=len(sent),
                )
            )
            return []
        accepted = []
        for field, upload in sent:
            limit = config["PUBLIC_UPLOAD_MAX_MB"] * documents.MB
            try:
                data = upload.stream.read(limit + 1)
                accepted.append(documents.accept(data, upload.filename or "", public=True))
            except documents.Refused as refused:
                name = documents.plain_name(upload.filename or "")[: documents.MAX_STEM]
                field.refuse(_l("“%(name)s”: %(reason)s", name=name, reason=refused))
        return accepted

    def ask_for_files_again(self) -> None:
        """Say at each field whose files were sent that they must be chosen again: a form given
        back cannot hold them."""
        for field in self.file_fields():
            if field.uploads() and not field.errors:
                field.refuse(_l("Choose the files again: a form given back cannot keep them."))

    def filled_drugs(self) -> list[DrugForm]:
        return [entry.form for entry in self.drugs if not entry.form.is_blank()]

    def validate_follow_up_of(self, field: Any) -> None:
        if not field.data:
            return
        reference = regulatory.normalize_reference(field.data)
        if reference and not self.trusted_follow_up:  # whether it exists is not said here
            self.claimed_follow_up_of = reference
            return
        first = reference and db.session.scalar(
            sa.select(Report).where(Report.reference == reference)
        )
        if not first:
            raise ValidationError(
                _l(
                    "We cannot find a report with this reference. Copy it from your "
                    "confirmation (it looks like ADR-202611-7K3QD9), or leave this empty."
                )
                if self.public
                else _l(
                    "No report has this reference: check it (it looks like "
                    "ADR-202611-7K3QD9), or leave this empty."
                )
            )
        self.first_report_id = merges.own_first(db.session(), first)
        self.case_known_since = first.case.reports[0].aware_on

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        self._check_reporter()
        self._check_patient()
        self._check_drugs()
        self._check_event()
        if not self.complete and self.first_report_id is not None and not self.typed_news():
            require(self.event.form.name, _l("Enter what the follow-up adds to the case."))
        # Not `self.errors`: a FieldList keeps the errors it saw when its rows were validated.
        return valid and not fields_in_error(self)

    def typed_news(self) -> bool:
        """Tell whether anything was typed about the reporter, patient, drugs or reaction."""
        sections = [self.reporter, self.patient, self.drugs, self.event, self.remarks]
        return any(
            any(str(value).strip() for value in (field.raw_data or []))
            for field in _walk(sections)
            if not field.name.endswith(PRESET)
        )

    def _check_reporter(self) -> None:
        reporter = self.reporter.form
        self.need(reporter.kind, _l("Tell us who you are."))
        if reporter.kind.data in vocab.HEALTH_PROFESSIONALS:
            self.need(reporter.organization_type, _l("Choose where you work."))
        if not (reporter.phone.data or reporter.email.data):
            self.need(
                reporter.phone,
                _l("Enter a phone number or an e-mail address, so we can reach you."),
            )
        if self.public and not reporter.consent_privacy.data:
            reporter.consent_privacy.errors.append(
                _l("Tick this box to agree to the privacy notice: we need it to keep health data.")
            )

    def _check_patient(self) -> None:
        patient = self.patient.form
        onset = self.event.form.onset_date.data
        identified = regulatory.identifiable_patient(
            patient.name.data, patient.sex.data, patient.age.data, patient.birth_date.data
        )
        typed_wrong = patient.name.errors or patient.age.errors or patient.birth_date.errors
        if self.complete and not identified and not typed_wrong:
            patient.name.errors.append(
                _l(
                    "Tell us something about the patient: initials, sex, age or date of birth "
                    "(one is enough)."
                )
            )
        birth = patient.birth_date.data
        if birth and onset and birth > onset and not patient.birth_date.errors:
            patient.birth_date.errors.append(RULES["birth_after_onset"])
        if patient.age.data is not None and not patient.age.errors:
            self._check_age(birth, onset)
        self._check_pregnant()
        if patient.past_adr.data == "yes":
            self.need(patient.past_adr_detail, _l("Describe the earlier reactions."))
        if patient.family_adr.data == "yes":
            self.need(patient.family_adr_detail, _l("Describe the reactions in the family."))
        history = patient.history.data or []
        if "pregnancy" in history and patient.sex.data == "male" and not patient.history.errors:
            patient.history.errors.append(
                _l("Pregnancy cannot apply to a male patient: untick it or check the sex.")
            )
        if {"allergy", "other"} & set(history):
            self.need(
                patient.history_detail, _l("Describe the allergies or other history you ticked.")
            )

    def _check_pregnant(self) -> None:
        """是否妊娠: never yes for a male patient, nor for one whose age puts it out of question;
        no contradicts 妊娠期 ticked in the history."""
        patient = self.patient.form
        field = patient.pregnant
        if not field.data or field.errors:
            return
        low, high = vocab.CHILD_BEARING_AGE
        if field.data == "yes" and patient.sex.data == "male":
            field.errors.append(
                _l("A male patient cannot be pregnant: change the answer or check the sex.")
            )
        elif field.data == "yes" and not pregnancy_asked(None, self.patient_years()):
            field.errors.append(
                _l(
                    "This question is for women aged %(low)s to %(high)s: check the age or the "
                    "date of birth. If she was pregnant all the same, leave this empty and say "
                    "so in the description.",
                    low=low,
                    high=high,
                )
            )
        elif field.data == "no" and "pregnancy" in (patient.history.data or []):
            field.errors.append(
                _l("Pregnancy is ticked in the patient's history: answer yes here, or untick it.")
            )

    def patient_years(self) -> int | None:
        """Return the patient's whole years at the reaction, from what was typed without error."""
        patient = self.patient.form

        def valid(field: Any) -> Any:
            return None if field.errors else field.data

        return regulatory.age_in_years(
            valid(patient.age),
            patient.age_unit.data,
            valid(patient.birth_date),
            valid(self.event.form.onset_date),
        )

    def _check_age(self, birth: date | None, onset: date | None) -> None:
        patient = self.patient.form
        age, unit = patient.age.data, patient.age_unit.data or "year"
        if unit not in regulatory.AGE_LIMITS:
            return  # the unit's own error says what to fix
        if not 0 <= age <= regulatory.AGE_LIMITS[unit]:
            patient.age.errors.append(
                _l("Enter an age from 0 to %(limit)s.", limit=regulatory.AGE_LIMITS[unit])
            )
        elif (
            birth
            and onset
            and birth <= onset
            and abs(regulatory.age_at(birth, onset, unit) - age) > 1
        ):
            patient.age.errors.append(
                _l("This age does not match the date of birth: check both, or leave the age empty.")
            )

    def _check_drugs(self) -> None:
        onset = self.event.form.onset_date.data
        for drug in self.filled_drugs():
            expiry = drug.expiry_date.data
            if expiry is None or drug.expiry_date.errors:
                continue
            used = drug.start_date.data or drug.end_date.data or onset or regulatory.china_today()
            if not years_after(used, -EXPIRY_YEARS) <= expiry <= expiry_limit():
                drug.expiry_date.errors.append(RULES["expiry"])
        last_name = self.drugs[-1].form.generic_name
        if self.rows_beyond_limit and not last_name.errors:
            last_name.errors.append(
                _l(
                    "A report can list at most %(limit)s drugs: empty the rows you do not need.",
                    limit=MAX_DRUGS,
                )
            )
        suspects = [e.form for e in self.drugs if e.form.role.data == "suspect"]
        if not self.complete or any(map(names_a_drug, suspects)):
            return
        if suspects:  # chosen, but no name typed in it (or 不详): the name is what is missing
            if not suspects[0].generic_name.errors:
                suspects[0].generic_name.errors.append(
                    _l("Enter the suspected drug's generic name, its brand name, or both.")
                )
        elif not self.drugs[0].form.role.errors:
            self.drugs[0].form.role.errors.append(
                _l("Name at least one suspected drug, with the role 'suspected drug'.")
            )

    def _check_event(self) -> None:
        event = self.event.form
        self.need(event.name, _l("Enter the reaction, for example 皮疹 or rash."))
        if self.complete and not event.name.errors and not regulatory.identifies(event.name.data):
            event.name.errors.append(_l("Enter the reaction, for example 皮疹 or rash."))
        if event.outcome.data == "sequelae":
            self.need(event.sequelae_detail, _l("Describe the lasting effects."))
        if event.outcome.data == "death":
            self.need(event.death_cause, _l("Enter the cause of death."))
            self.need(event.death_date, _l("Enter the date of death."))
        elif "death" in (event.serious.data or []) and not event.serious.errors:
            event.serious.errors.append(
                _l("'Lead to death' needs the outcome 'death': change the outcome or untick it.")
            )
        onset, death = event.onset_date.data, event.death_date.data
        if onset and death and death < onset and not event.death_date.errors:
            event.death_date.errors.append(RULES["death_before_onset"])

    def to_report(self) -> Report:
        """Return a new, unsaved report holding what was typed."""
        report = Report(
            source="web",
            follow_up_of_id=self.first_report_id,
            claimed_follow_up_of=self.claimed_follow_up_of,
            remarks=self.remarks.data,
            drugs=[
                Drug(position=position, **self._drug_columns(drug))
                for position, drug in enumerate(self.filled_drugs())
            ],
        )
        for section in ("reporter", "patient", "event"):
            for column, value in _columns(getattr(self, section).form, f"{section}_").items():
                setattr(report, column, value)
        report.reporter_phone_e164 = phone_e164(report.reporter_phone)
        report.patient_phone_e164 = phone_e164(report.patient_phone)
        if report.event_outcome == "death" and "death" not in report.event_serious:
            report.event_serious = ["death", *report.event_serious]
        if report.patient_age is not None and not report.patient_age_unit:
            report.patient_age_unit = "year"
        if report.patient_age is None:
            report.patient_age_unit = None
        self._store_pregnant(report)
        return report

    def _drug_columns(self, drug: FormField) -> dict[str, Any]:
        """Return a drug row's columns; the dosage form is staff's (the catalogue fills it for
        our products), whatever a public post sends."""
        columns = _columns(drug, "")
        if self.public:
            columns.pop("dosage_form", None)
        return columns

    def _store_pregnant(self, report: Report) -> None:
        """Store 是否妊娠 where it applies, at one with the history's 妊娠期 (the 2011 form's
        way to say yes): either given says yes in both; an answer where the question does not
        apply (a no sent for a man) is not kept."""
        if not pregnancy_asked(report.patient_sex, self.patient_years()):
            report.patient_pregnant = None
        elif "pregnancy" in report.patient_history:
            report.patient_pregnant = "yes"
        if report.patient_pregnant == "yes" and "pregnancy" not in report.patient_history:
            ticked = {*report.patient_history, "pregnancy"}
            report.patient_history = [code for code in vocab.HISTORY if code in ticked]


def _columns(section: Form, prefix: str) -> dict[str, Any]:
    """Return a section's values keyed by column name, decimals as floats."""
    return {
        prefix + name: float(field.data) if isinstance(field.data, Decimal) else field.data
        for name, field in section._fields.items()
    }


def pregnancy_asked(sex: str | None, years: int | None) -> bool:
    """Tell whether 是否妊娠 applies: to a patient not male, of child-bearing age at the reaction
    (`vocab.CHILD_BEARING_AGE`) or of an age not known."""
    low, high = vocab.CHILD_BEARING_AGE
    return sex != "male" and (years is None or low <= years <= high)


def names_a_drug(drug: DrugForm) -> bool:
    """Tell whether a drug row names its drug (不详 or ? names none)."""
    return regulatory.identifies(drug.generic_name.data) or regulatory.identifies(
        drug.brand_name.data
    )


def new_token() -> str:
    """Return a fresh submission token."""
    return secrets.token_urlsafe(24)


def drug_row_count(asked: int) -> int:
    """Return how many drug rows a blank form shows when `asked` for: 1 to MAX_DRUGS."""
    return min(max(asked, 1), MAX_DRUGS)


def fields_in_error(form: Form) -> list[Any]:
    """Return every input field that has an error, in page order."""
    order = PAGE_ORDER if isinstance(form, ReportForm) else tuple(form._fields)
    moved = {name for name in order if "-" in name}
    fields = []
    for name in order:
        if "-" in name:
            section, field = name.split("-")
            parts = [form[section].form[field]] if section in form._fields else []
        else:
            parts = [f for f in _walk([form[name]]) if f.name not in moved] if name in form else []
        fields += [f for f in parts if f.errors and not isinstance(f, (FormField, FieldList))]
    return fields


def _walk(form: Any) -> Iterable[Any]:
    for field in form:
        yield field
        if isinstance(field, FormField):
            yield from _walk(field.form)
        elif isinstance(field, FieldList):
            for entry in field:
                yield from _walk(entry.form)


class CaseForm(Section):
    source = Choice("case-source", {k: v for k, v in vocab.SOURCE.items() if k != "web"})
    awareness_date = Date("case-awareness_date")


def plausible_year(form: Form, field: Any) -> None:
    high = regulatory.china_today().year
    if field.data is not None and not literature.EARLIEST_YEAR <= field.data <= high:
        raise ValidationError(
            _l("Enter a year from %(low)s to %(high)s.", low=literature.EARLIEST_YEAR, high=high)
        )


def doi_validator(form: Form, field: Any) -> None:
    if field.data and not literature.is_doi(field.data):
        raise ValidationError(
            _l(
                "Enter the DOI as printed, for example 10.1000/xyz123 or "
                "https://doi.org/10.1000/xyz123."
            )
        )


class LiteratureForm(Section):
    """The citation of a report from the literature (E2B C.4.r.1)."""

    authors = Text("literature-authors", 500)
    title = Text("literature-title", 500)
    journal = Text("literature-journal", 200)
    year = WholeNumber(label("literature-year"), validators=[plausible_year])
    volume = Text("literature-volume", 20)
    pages = Text("literature-pages", 30)
    # Kept bare: a pasted https://doi.org/… or doi:… loses its prefix.
    doi = StringField(
        label("literature-doi"),
        validators=[MaxLength(200), doi_validator],
        filters=[clean_text, literature.bare_doi],
    )

    def typed(self) -> bool:
        """Tell whether anything was typed in the citation."""
        return any(str(value).strip() for field in self for value in (field.raw_data or []))


CITATION_NEEDED = {
    "authors": _l("Enter the article's authors as printed, for example Zhang W, Li X."),
    "title": _l("Enter the article's title."),
    "journal": _l("Enter the journal's name."),
    "year": _l("Enter the year the article was published."),
}


class StaffReportForm(ReportForm):
    """A report staff enter from a call, a mail, a letter, a visit or the literature (§6)."""

    case = FormField(CaseForm)
    literature = FormField(LiteratureForm)
    # Staff add files on the case page, where they can say what each one is.
    event_files = None  # type: ignore[assignment]
    drug_files = None  # type: ignore[assignment]
    inbox_message = HiddenField()  # the safety inbox message it is made from (adr.review.inbox)
    public = False
    complete = False
    trusted_follow_up = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, term in vocab.STAFF_FIELDS.items():  # "报告人…", not the public form's "you"
            section, _sep, key = name.rpartition("-")
            field = self[section].form[key] if section else self[key]
            field.label.text = lazy_term(term)

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        case = self.case.form
        require(case.source, _l("Choose how we heard of this report."))
        require(case.awareness_date, _l("Enter the day the company first knew of this report."))
        suspects = [
            d
            for d in self.filled_drugs()
            if d.role.data == "suspect" and (d.generic_name.data or d.brand_name.data)
        ]
        event = self.event.form
        if self.first_report_id is None and not (event.name.data or suspects):
            require(
                event.name,
                _l("Enter the reaction or a suspected drug: without either there is no case."),
            )
        self._check_citation()
        known, onset = case.awareness_date.data, event.onset_date.data
        if known and not case.awareness_date.errors:
            if onset and known < onset:
                case.awareness_date.errors.append(
                    _l("We cannot have known of the reaction before it started: check both dates.")
                )
            elif self.case_known_since and known < self.case_known_since:
                case.awareness_date.errors.append(
                    _l("A follow-up cannot be known before its case was: check the date.")
                )
        return valid and not fields_in_error(self)

    def _check_citation(self) -> None:
        """A literature report needs its citation; any other refuses one (not kept silently)."""
        source, cited = self.case.form.source, self.literature.form
        if source.data == "literature":
            for name, message in CITATION_NEEDED.items():
                require(cited[name], message)
        elif source.data and cited.typed() and not source.errors:
            source.errors.append(
                _l(
                    "A citation belongs to a report from the literature: choose that source, or "
                    "empty the article's fields."
                )
            )

    def to_report(self) -> Report:
        report = super().to_report()
        report.source = self.case.form.source.data
        report.aware_on = self.case.form.awareness_date.data
        if report.source == "literature":
            for name, field in self.literature.form._fields.items():
                setattr(report, f"literature_{name}", field.data)
            reporter = (report.reporter_name, report.reporter_phone, report.reporter_email)
            if not any(map(regulatory.identifies, reporter)) and report.literature_authors:
                # GVP: an article's author is its identifiable reporter.
                report.reporter_name = literature.first_author(report.literature_authors)[:100]
        return report


class FollowUpForm(ReportForm):
    """A follow-up sent through the private link of an acknowledgement: its case is known."""

    complete = False
    trusted_follow_up = True  # the link's report, set by the view, whatever was posted
    link_report: Report | None = None  # the report whose acknowledgement carried the link

    def to_report(self) -> Report:
        """Return the follow-up; the reporter is the one the link was mailed to, so what they
        leave empty about themselves is what their first report said (consent aside)."""
        report = super().to_report()
        if self.link_report is not None:
            for column in LINKED_REPORTER_COLUMNS:
                if not getattr(report, column):
                    setattr(report, column, getattr(self.link_report, column))
        return report


LINKED_REPORTER_COLUMNS = (
    *("reporter_kind", "reporter_organization_type", "reporter_organization", "reporter_name"),
    *("reporter_phone", "reporter_phone_e164", "reporter_email"),
)
