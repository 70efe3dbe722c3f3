"""From the pack to the form: a link (its QR code on the box) fills in the suspect drug."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import pytest
import sqlalchemy as sa
from flask import request
from hypothesis import given, settings
from hypothesis import strategies as st

from adr.extensions import db
from adr.intake.forms import ReportForm, drug_from_pack
from adr.intake.pages import blank_form_page, render_form
from adr.models import Report
from tests.conftest import (
    ReportSender,
    app_on_new_database,
    hidden_inputs,
    reference_of,
    valid_report,
)
from tests.test_fuzz import text

PACK = {
    "product": "阿莫西林胶囊",
    "brand": "天宁",
    "approval": "国药准字H61020123",
    "batch": "20260315a",
}
SUSPECT = {
    "drugs-0-role": "suspect",
    "drugs-0-generic_name": "阿莫西林胶囊",
    "drugs-0-brand_name": "天宁",
    "drugs-0-approval_number": "国药准字H61020123",
    "drugs-0-batch_number": "20260315A",
}
HOSTILE = '"><script>alert(1)</script>'


class Fields(HTMLParser):
    """Collect what each text input and selected option of a page holds."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._select: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type", "text") == "text":
            self.values[attrs["name"]] = attrs.get("value") or ""
        elif tag == "select":
            self._select = attrs["name"]
        elif tag == "option" and "selected" in attrs and self._select:
            self.values[self._select] = attrs["value"]


def fields(client, path: str) -> dict[str, str]:
    response = client.get(path)
    assert response.status_code == 200
    return Fields(response.get_data(as_text=True)).values


def test_a_packs_link_fills_in_the_suspect_drug(client):
    values = fields(client, "/report?" + urlencode(PACK))
    assert {name: values[name] for name in SUSPECT} == SUSPECT


def test_without_a_pack_the_drug_row_is_empty(client):
    values = fields(client, "/report")
    assert values["drugs-0-role"] == "suspect"
    assert not any(values[name] for name in SUSPECT if name != "drugs-0-role")


def test_the_filled_in_form_sent_stores_the_packs_drug(app, client):
    """The person scans the box, types the rest and sends it: the pack's drug is stored."""
    path = "/report?" + urlencode(PACK)
    page = client.get(path).get_data(as_text=True)
    typed = {k: v for k, v in valid_report().items() if not k.startswith("drugs-0-")}
    reference = reference_of(ReportSender(client).send(Fields(page).values | typed, path))
    with app.app_context():
        stored = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        drug = stored.drugs[0]
        assert (drug.role, drug.generic_name, drug.brand_name) == (
            "suspect",
            "阿莫西林胶囊",
            "天宁",
        )
        assert (drug.approval_number, drug.batch_number) == ("国药准字H61020123", "20260315A")


def test_hostile_text_is_escaped_and_kept_as_text(client):
    response = client.get("/report?" + urlencode({"product": HOSTILE, "brand": HOSTILE}))
    page = response.get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page
    values = Fields(page).values
    assert values["drugs-0-generic_name"] == values["drugs-0-brand_name"] == HOSTILE


def test_values_are_cut_to_the_fields_lengths_and_kept_on_one_line(client):
    values = fields(
        client,
        "/report?"
        + urlencode(
            {
                "product": "阿" * 300,
                "brand": " 天宁\r\n胶囊\t ",
                "approval": "国药准字\x01H\x7f6102" + "1" * 50,
                "batch": "lot 2026 " + "9" * 40,
            }
        ),
    )
    assert values["drugs-0-generic_name"] == "阿" * 200
    assert values["drugs-0-brand_name"] == "天宁 胶囊"
    assert values["drugs-0-approval_number"] == ("国药准字H6102" + "1" * 50)[:35]
    assert values["drugs-0-batch_number"] == ("2026" + "9" * 40)[:35]  # label and spaces go


def test_a_pack_link_that_also_quotes_a_follow_up_fills_both(client, sender):
    reference = reference_of(sender.send(valid_report()))
    values = fields(client, f"/report?follow_up_of={reference}&drugs=2&" + urlencode(PACK))
    assert values["follow_up_of"] == reference
    assert values["drugs-0-generic_name"] == "阿莫西林胶囊" and values["drugs-1-generic_name"] == ""


@pytest.mark.parametrize(
    "query",
    [PACK, {"product": HOSTILE, "batch": "lot 1"}, {"brand": "天宁"}, {"lang": "en", **PACK}],
)
def test_the_cached_form_filled_from_a_pack_is_the_page_a_fresh_render_gives(app, query):
    for _ in range(2):  # rendered into the cache, then filled from it
        with app.test_request_context("/report?" + urlencode(query)):
            suspect = drug_from_pack(request.args)
            cached = blank_form_page(1, None, suspect)
            token = hidden_inputs(cached)["submission_token"]
            fresh, _status = render_form(ReportForm.blank(1, None, token, suspect))
            assert cached == fresh


@pytest.fixture(scope="module")
def pack_app(request, engine, tmp_path_factory):
    yield from app_on_new_database(request, engine, tmp_path_factory.mktemp("pack"))


@settings(max_examples=100, deadline=None)
@given(pack=st.dictionaries(st.sampled_from(sorted(PACK)), text, min_size=1))
def test_any_pack_link_opens_the_form_with_text_that_fits(pack_app, pack):
    values = fields(pack_app.test_client(), "/report?" + urlencode(pack))
    for name, limit in (("generic_name", 200), ("brand_name", 200), ("approval_number", 35)):
        value = values[f"drugs-0-{name}"]
        assert len(value) <= limit and value == " ".join(value.split())
        assert not re.search("[\x00-\x1f\x7f-\x9f]", value)
    assert len(values["drugs-0-batch_number"]) <= 35


# adr qr


def qr(runner, output: str, *options: str):
    return runner.invoke(
        args=["qr", "--product", "阿莫西林胶囊", "--batch", "20260315A", *options, "-o", output]
    )


@pytest.mark.parametrize(
    ("name", "start"), [("pack.png", b"\x89PNG\r\n\x1a\n"), ("pack.SVG", b"<")]
)
def test_adr_qr_writes_the_code_of_a_link_that_fills_in_the_form(
    runner, client, tmp_path, name, start
):
    path = tmp_path / name
    result = qr(runner, str(path), "--brand", "天宁", "--approval", "国药准字H61020123")
    assert result.exit_code == 0, result.output
    link, written = result.output.splitlines()
    assert link.startswith("http://127.0.0.1:5000/report?") and str(path) in written
    content = path.read_bytes()
    assert content.startswith(start)
    if name.endswith("SVG"):
        assert b"<svg" in content
    parts = urlsplit(link)
    values = fields(client, f"{parts.path}?{parts.query}")
    assert {field: values[field] for field in SUSPECT} == SUSPECT


def test_adr_qr_builds_the_link_from_the_public_address(tmp_path, monkeypatch):
    from adr import create_app
    from tests.conftest import app_config

    monkeypatch.setenv("ADR_INSTANCE_PATH", str(tmp_path))
    app = create_app(app_config(tmp_path, BASE_URL="https://adr.tianning.example/"))
    result = qr(app.test_cli_runner(), str(tmp_path / "pack.svg"))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        "https://adr.tianning.example/report?product=%E9%98%BF%E8%8E%AB%E8%A5%BF%E6%9E%97"
        "%E8%83%B6%E5%9B%8A&batch=20260315A"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["-o", "pack.jpg"], ".png or .svg"),
        (["-o", "pack"], ".png or .svg"),
        (["--batch", "批号#1", "-o", "pack.png"], "refuse this batch number"),
    ],
)
def test_adr_qr_refuses_what_it_cannot_write(runner, tmp_path, monkeypatch, options, message):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(args=["qr", "--product", "阿莫西林胶囊", "--batch", "1", *options])
    assert result.exit_code == 2
    assert message in result.output
    assert not any(tmp_path.glob("pack*"))
