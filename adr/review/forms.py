"""The staff forms: the assessment, and a user's own account."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import EqualTo, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from adr import accounts, regulatory, vocab
from adr.i18n import lazy_term
from adr.intake.forms import clean_text, options, unique_codes

NARANJO_CHOICES = [
    SelectChoice(code, lazy_term(term)) for code, term in vocab.NARANJO_ANSWER.items()
]


class AssessmentForm(FlaskForm):
    status = SelectField(_l("Status"), choices=options(vocab.STATUS), validate_choice=True)
    invalid_reason = RadioField(
        _l("Why the case is invalid"),
        choices=options(vocab.INVALID_REASON),
        validators=[Optional()],
    )
    status_reason = StringField(
        _l("Why, in words (needed for 'other')"),
        filters=[clean_text],
        validators=[Length(max=500)],
    )
    duplicate_of = StringField(_l("Reference of the original report"), filters=[clean_text])
    assessed_serious = SelectMultipleField(
        _l("Seriousness criteria, as staff confirm them"),
        choices=options(vocab.SERIOUSNESS),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        filters=[unique_codes],
    )
    assessed_outcome = RadioField(
        _l("Outcome, as staff confirm it"), choices=options(vocab.OUTCOME), validators=[Optional()]
    )
    expectedness = RadioField(
        _l("Expectedness"), choices=options(vocab.EXPECTEDNESS), validators=[Optional()]
    )
    # The report the decisions above rest on: the latest, unless an earlier one was misjudged.
    effective_from = SelectField(_l("These decisions apply from report"), validate_choice=False)
    decision_reason = StringField(
        _l("Why an earlier decision was wrong (a correction)"),
        filters=[clean_text],
        validators=[Length(max=500)],
    )
    # The ten Naranjo questions, made here so that they come here in the form's (the page's)
    # order; set as naranjo_0 … naranjo_9 below.
    _naranjo = tuple(
        RadioField(lazy_term(question), choices=NARANJO_CHOICES, validators=[Optional()])
        for question in vocab.NARANJO
    )
    company_causality = RadioField(
        _l("Company causality (WHO-UMC)"), choices=options(vocab.CAUSALITY), validators=[Optional()]
    )
    submitted_to_regulator_on = DateField(
        _l("Date sent to the national system"), validators=[Optional()]
    )
    national_case_number = StringField(
        _l("National case number"), filters=[clean_text], validators=[Length(max=50)]
    )
    investigation_reported_on = DateField(
        _l("Date of the death investigation report"), validators=[Optional()]
    )
    note = TextAreaField(_l("Add a note"), filters=[clean_text], validators=[Length(max=5000)])


for _index, _question in enumerate(AssessmentForm._naranjo):
    setattr(AssessmentForm, f"naranjo_{_index}", _question)


def report_choices(reports: list[Any]) -> list[SelectChoice]:
    """Return the case's reports to choose from, the latest first (the default)."""
    return [SelectChoice(r.reference, r.reference) for r in reversed(reports)]


def status_choices(current: str) -> list[SelectChoice]:
    """Return the statuses a case in `current` may take: itself and the legal next ones."""
    return [c for c in options(vocab.STATUS) if regulatory.can_move(current, c.value)]


def naranjo_answers(form: AssessmentForm) -> list[str] | None:
    """Return the ten answers when every question was answered, else None."""
    answers = [getattr(form, f"naranjo_{index}").data for index in range(len(vocab.NARANJO))]
    return answers if all(answers) else None


def naranjo_questions(form: AssessmentForm) -> list[Any]:
    return [getattr(form, f"naranjo_{index}") for index in range(len(vocab.NARANJO))]


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[InputRequired()])
    new_password = PasswordField(
        _l("New password (at least 12 characters)"),
        validators=[InputRequired(), Length(min=accounts.MIN_PASSWORD_LENGTH, max=200)],
    )
    repeated = PasswordField(
        _l("New password again"),
        validators=[
            InputRequired(),
            EqualTo("new_password", message=_l("The two new passwords differ.")),
        ],
    )


class TotpConfirmForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[InputRequired()])
    code = StringField(_l("The 6-digit code the app shows now"), validators=[InputRequired()])


class TotpRemoveForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[InputRequired()])
