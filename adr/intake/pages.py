"""The report form page: rendered from its form, or, when blank, from a per-process cache."""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from flask import current_app, render_template, request
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf
from markupsafe import escape

from adr import products, regulatory, vocab
from adr.i18n import current_language
from adr.intake.forms import (
    MAX_DRUGS,
    PACK_FIELDS,
    RULES,
    ReportForm,
    drug_row_count,
    fields_in_error,
    new_token,
)

EXTENSION = "adr_blank_report_pages"
# Blank pages kept per app and process, each some 30 to 180 KB: the common ones (either language,
# a few drug rows, with or without a follow-up reference); the least recently used goes first.
KEPT_PAGES = 32


def render_form(
    form: ReportForm, status: int = 200, notice: str | None = None, **context: Any
) -> tuple[str, int]:
    """Render the form page for `form`, its errors and an optional notice.

    `context` tells the page more: `staff=True` for staff entry; a follow-up link's page
    names the case it follows up (`follow_up_reference`) and posts to `form_action`.
    """
    if form.public:
        form.use_plain_words()
    return (
        render_template(
            "intake/report.html",
            form=form,
            errors=fields_in_error(form),
            notice=notice,
            max_drugs=MAX_DRUGS,
            catalogue=products.suggestions(current_language()),
            rules=json.dumps({name: str(text) for name, text in RULES.items()}, ensure_ascii=False),
            today=regulatory.china_today().isoformat(),
            child_bearing_age=vocab.CHILD_BEARING_AGE,
            provinces=provinces(current_language()),
            **context,
        ),
        status,
    )


@cache
def provinces(language: str) -> list[str]:
    """Return China's provinces in `language`, as the form offers them (any text is kept)."""
    return [province.text(language) for province in vocab.PROVINCES]


@dataclass(frozen=True)
class FillablePage:
    """A rendered page cut at its slots: text, slot name, text, slot name, …, text."""

    parts: list[str]

    @property
    def slots(self) -> set[str]:
        return set(self.parts[1::2])

    @classmethod
    def cut(cls, page: str, marker: str) -> FillablePage:
        """Cut `page` wherever `marker`, a slot name and `marker` again stand."""
        return cls(re.split(f"{marker}([a-z_]+){marker}", page))

    def fill(self, values: dict[str, str]) -> str:
        """Return the page with each slot replaced by its value, which must be HTML already."""
        return "".join(values[part] if i % 2 else part for i, part in enumerate(self.parts))


class PageCache:
    """The last `size` pages rendered, by key; the least recently used is dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pages: OrderedDict[tuple[Any, ...], FillablePage] = OrderedDict()
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.pages)

    def get(self, key: tuple[Any, ...], render: Callable[[], FillablePage]) -> FillablePage:
        """Return the page kept for `key`, rendering and keeping it when there is none."""
        with self.lock:
            page = self.pages.get(key)
            if page is not None:
                self.pages.move_to_end(key)
                return page
        page = render()
        with self.lock:
            self.pages[key] = page
            while len(self.pages) > self.size:
                self.pages.popitem(last=False)
        return page


def blank_form_page(
    drug_rows: int, follow_up_of: str | None, suspect_drug: dict[str, str] | None = None
) -> str:
    """Return the blank form page for this visitor: fresh tokens in a page rendered once.

    The page is rendered once per app and process for each language, number of drug rows,
    and presence of a follow-up reference, and again when the product catalogue it suggests
    changes or the China day does, with stand-ins where the CSRF token, the
    submission token, the follow-up reference and the suspect drug's fields a pack's link
    fills in (`drug_from_pack`) go; each visitor gets it filled in. Its links start with the
    app's own root (`APPLICATION_ROOT`): a request that says it is served elsewhere
    (`SCRIPT_NAME`, which a client or a proxy may set) gets a page rendered for it alone.
    """
    rows = drug_row_count(drug_rows)
    with_follow_up = follow_up_of is not None
    if request.script_root == current_app.config["APPLICATION_ROOT"].rstrip("/"):
        today = regulatory.china_today()  # the page's dates stop at today: a new page tomorrow
        catalogue = products.suggestions(current_language())
        key = (str(get_locale()), rows, with_follow_up, catalogue, today)
        page = _blank_pages().get(key, lambda: _render_fillable(rows, with_follow_up))
    else:
        page = _render_fillable(rows, with_follow_up)
    values = {"submission_token": new_token(), "follow_up_of": str(escape(follow_up_of or ""))}
    for name in PACK_FIELDS.values():
        values[f"drug_{name}"] = str(escape((suspect_drug or {}).get(name, "")))
    if "csrf_token" in page.slots:  # not when CSRF protection is turned off
        values["csrf_token"] = generate_csrf()
    return page.fill(values)


def _blank_pages() -> PageCache:
    cache: PageCache = current_app.extensions.setdefault(EXTENSION, PageCache(KEPT_PAGES))
    return cache


def _render_fillable(rows: int, with_follow_up: bool) -> FillablePage:
    marker = f"slot{secrets.token_hex(16)}"  # no page text holds it; escaping leaves it alone

    def slot(name: str) -> str:
        return f"{marker}{name}{marker}"

    form = ReportForm.blank(
        rows, slot("follow_up_of") if with_follow_up else None, slot("submission_token")
    )
    if form.meta.csrf:
        form.csrf_token.current_token = slot("csrf_token")
    for name in PACK_FIELDS.values():  # set after the filters, which would change the stand-in
        form.drugs[0].form[name].data = slot(f"drug_{name}")
    page, _status = render_form(form)
    return FillablePage.cut(page, marker)
