"""Chinese by default, English on request, and every word of the interface in both."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from adr import vocab
from tests.conftest import ReportSender

CATALOGUE = Path(__file__).parent.parent / "adr/translations/zh/LC_MESSAGES/messages.po"
PAGES = ["/", "/report?drugs=2", "/privacy", "/report/submitted/ADR-202611-ABCDEF", "/nowhere"]
# Words that stay in Latin letters on the Chinese page: the switch to English, units, examples,
# the labels a pack prints (LOT, EXP), and the files a report may carry (PDF, up to 10 MB).
LATIN_ON_CHINESE_PAGES = {
    *("English", "kg", "mg", "ml", "IU", "LOT", "EXP", "ZS", "ADR-", "QD", "ABCDEF"),
    *("PDF", "MB", "MedDRA"),  # MedDRA: every staff page names it in the menu
}


class VisibleText(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self._hidden += tag in ("script", "style")
        self.parts += [
            v for k, v in attrs if k in ("placeholder", "aria-label", "title", "alt") and v
        ]

    def handle_endtag(self, tag):
        self._hidden -= tag in ("script", "style")

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def latin_words(html: str) -> set[str]:
    text = " ".join(VisibleText(html).parts)
    text = re.sub(r"\S+@\S+", "", text)  # e-mail addresses
    return set(re.findall(r"[A-Za-z][A-Za-z-]+", text))


def test_chinese_is_the_default(client):
    page = client.get("/report").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    assert "报告药品不良反应" in page


@pytest.mark.parametrize("path", PAGES)
def test_chinese_pages_show_no_english_interface_text(client, path):
    page = client.get(path).get_data(as_text=True)
    assert latin_words(page) <= LATIN_ON_CHINESE_PAGES


def test_a_refused_chinese_form_shows_no_english(sender):
    page = sender.send({"patient-age": "x", "drugs-0-dose": "y", "reporter-email": "z"})
    assert page.status_code == 422
    assert latin_words(page.get_data(as_text=True)) <= LATIN_ON_CHINESE_PAGES | {"x", "y", "z"}


def test_lang_switches_to_english_and_is_remembered(client):
    page = client.get("/report?lang=en").get_data(as_text=True)
    assert (
        '<html lang="en">' in page
        and "Report a side effect" in page
        and "Who is reporting?" in page
    )
    assert client.get_cookie("lang").value == "en"
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in client.get("/?lang=zh_CN").get_data(as_text=True)
    assert '<html lang="zh-CN">' in client.get("/privacy").get_data(as_text=True)


@pytest.mark.parametrize(
    ("accept", "lang"),
    [
        ("en-GB,en;q=0.9", "en"),
        ("en-US, zh-CN;q=0.5", "en"),
        ("zh-TW,zh;q=0.9", "zh-CN"),
        ("fr", "zh-CN"),
        ("", "zh-CN"),
    ],
)
def test_the_browser_language_is_followed(client, accept, lang):
    page = client.get("/", headers={"Accept-Language": accept}).get_data(as_text=True)
    assert f'<html lang="{lang}">' in page


def test_an_unknown_lang_is_ignored(client):
    assert '<html lang="zh-CN">' in client.get("/?lang=xx").get_data(as_text=True)
    assert client.get_cookie("lang") is None


def test_the_english_page_uses_the_english_labels(client):
    page = client.get("/report?lang=en").get_data(as_text=True)
    for term in (vocab.FIELDS["event-outcome"], vocab.OUTCOME["sequelae"], vocab.ROUTE["iv"]):
        assert term.en in page and term.zh not in page


def test_english_error_messages(client):
    sender = ReportSender(client)
    page = sender.send({}, path="/report?lang=en").get_data(as_text=True)
    assert "Tell us who you are." in page and "请填写" not in page


def test_every_interface_message_has_a_chinese_translation():
    with CATALOGUE.open("rb") as po:
        catalogue = read_po(po)
    untranslated = [m.id for m in catalogue if m.id and (not m.string or m.fuzzy)]
    assert untranslated == []
    obsolete = list(catalogue.obsolete)
    assert obsolete == []


def test_every_code_list_and_label_has_both_languages():
    lists = [
        value
        for value in vars(vocab).values()
        if isinstance(value, dict) and all(isinstance(t, vocab.Term) for t in value.values())
    ]
    assert vocab.FIELDS in lists and vocab.OUTCOME in lists
    for codes in lists:
        for term in codes.values():
            assert term.zh.strip() and term.en.strip()
            assert any("\u4e00" <= char <= "\u9fff" for char in term.zh) or term.zh in (
                "mg",
                "g",
                "ml",
                "DOI",  # a literature report's citation: the identifier's name in Chinese too
            )
