"""Without JavaScript a reporter still sends a whole report, a second medicine included."""

from __future__ import annotations

import pytest

from tests.browser.conftest import fill_form
from tests.conftest import valid_report
from tests.test_documents import exif_of, kept, photo

pytestmark = pytest.mark.sqlite_only


def test_a_report_sent_without_javascript_is_stored_and_acknowledged(nojs, live_server):
    report = valid_report() | {
        "drugs-0-strength": "0.25g",
        "drugs-0-expiry_date": "2028-03-31",
        "event-province": "陕西省",
        "event-city": "榆林市",
        "patient-birth_date": "1996-03-14",
        "patient-age": "30",
        "patient-pregnant": "yes",  # on the page, its hint saying whom it is for
    }
    first = {name: value for name, value in report.items() if not name.startswith("drugs-1-")}
    second = {name: value for name, value in report.items() if name.startswith("drugs-1-")}
    nojs.goto("/report")
    assert nojs.locator("[name=drugs-1-role]").count() == 0
    fill_form(nojs, first)
    with nojs.expect_navigation():
        nojs.click("button[name=add_drug]")  # the server adds the row, every value kept
    assert nojs.input_value("[name=patient-name]") == "张某某"
    fill_form(nojs, second)
    pack = {"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": photo()}
    nojs.set_input_files("[name=drugs-files]", pack)  # a form without script sends it too
    nojs.click("form[method=post] button.primary")
    nojs.wait_for_url("**/report/submitted/*")
    reference = nojs.text_content("#report-reference").strip()

    stored = live_server.stored(reference)
    assert (stored.reporter_name, stored.patient_name) == ("王丽", "张某某")
    assert [drug.generic_name for drug in stored.drugs] == ["阿莫西林胶囊", "盐酸氨溴索片"]
    assert stored.drugs[0].batch_number == "20260315A"
    assert (stored.drugs[0].strength, str(stored.drugs[0].expiry_date)) == ("0.25g", "2028-03-31")
    assert (stored.event_province, stored.event_city, stored.patient_pregnant) == (
        "陕西省",
        "榆林市",
        "yes",
    )
    [document] = kept(live_server.app, reference)
    assert (document.filename, document.origin) == ("IMG_0001.jpg", "web")
    assert exif_of(document.data) == {}  # the photo of the pack, without its GPS location
    mails = live_server.inbox.wait_for(2)  # the safety inbox's mail and the acknowledgement
    recipients = [address for to, _ in live_server.inbox.received for address in to]
    assert "wangli@example.com" in recipients and len(mails) == 2


def test_without_javascript_the_reference_is_plain_text_selected_whole(nojs, live_server):
    reference = live_server.send_report()
    nojs.goto(f"/report/submitted/{reference}")
    shown = nojs.locator("#report-reference")
    assert shown.inner_text() == reference and shown.is_visible()
    assert shown.evaluate("e => getComputedStyle(e).userSelect") == "all"  # one press takes it
    assert not nojs.locator("#copy-reference").is_visible()  # no button that cannot work
    assert "长按可复制" in nojs.locator(".done").inner_text()
    assert nojs.locator('#call-us a[href="tel:4008401008"]').is_visible()
