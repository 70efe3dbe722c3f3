"""The public form in steps on a phone, with the draft kept in the browser (script on): who is
reporting first (revised 2026-12), then the reaction, the medicines, the patient, how to reach
the reporter, and the review."""

from __future__ import annotations

import re

import pytest

from adr.extensions import db
from adr.models import Product
from tests.browser.conftest import fill_form
from tests.conftest import COMPANY
from tests.smtp import body

pytestmark = pytest.mark.sqlite_only

REACTION = {
    "event-name": "皮疹",
    "event-onset_date": "2026-11-20",
    "event-description": "服药后第二天全身出现红色皮疹，伴瘙痒。",
    "event-outcome": "improving",
}
MEDICINE = {"drugs-0-generic_name": "阿莫西林胶囊", "drugs-0-batch_number": "LOT 240517a"}
PATIENT = {"patient-name": "ZS", "patient-sex": "male", "patient-age": "34"}
WHO = {"reporter-kind": "patient"}
REPORTER = {"reporter-name": "张三", "reporter-phone": "13912345678"}


def progress(page) -> str:
    return page.locator("#progress").inner_text()


def step_title(page) -> str:
    return page.locator("section[data-step]:visible h2").inner_text()


def next_step(page) -> None:
    page.locator("section[data-step]:visible").get_by_role("button", name="下一步").click()


def fill_to_the_review(page, reporter: dict[str, object] = REPORTER) -> None:
    """Fill the five steps, move on to the review and agree to the privacy notice."""
    for fields in (WHO, REACTION, MEDICINE, PATIENT, reporter):
        fill_form(page, fields)
        next_step(page)
    page.check('[name="reporter-consent_privacy"]')


def test_a_person_reports_step_by_step_who_first_and_a_reload_loses_nothing(phone, live_server):
    phone.goto("/report")
    assert progress(phone).startswith("第 1 步，共 6 步")
    assert step_title(phone) == "谁在报告"
    assert phone.locator("#report-page").get_attribute("data-audience") == "lay"
    next_step(phone)  # nothing chosen: the step says what it needs and stays
    assert phone.locator(".error[data-check]").count() == 1
    fill_form(phone, WHO)
    next_step(phone)
    assert progress(phone).startswith("第 2 步，共 6 步")
    assert not phone.locator('[name="drugs-0-generic_name"]').is_visible()
    # Plain words for a patient, the official term in reserve for a health professional.
    assert phone.locator("label[for=event-name]").inner_text().startswith("出现了什么不舒服？")
    assert phone.locator('[name="event-causality"]').first.is_hidden()

    next_step(phone)  # nothing typed: only the reaction is required here
    assert progress(phone).startswith("第 2 步")
    assert phone.locator(".error[data-check]").count() == 1
    assert phone.evaluate("document.activeElement.name") == "event-name"

    fill_form(phone, REACTION)
    phone.press('[name="event-name"]', "Enter")  # Enter moves on; it never adds a medicine
    assert progress(phone).startswith("第 3 步，共 6 步")
    assert phone.locator("fieldset.drug").count() == 1

    fill_form(phone, MEDICINE)
    phone.click("#add-drug")  # in place, no reload
    fill_form(phone, {"drugs-1-generic_name": "布洛芬缓释胶囊"})
    phone.click("#add-drug")
    phone.locator("#drug-2").get_by_role("button", name="删除药品 3").click()
    assert phone.locator("fieldset.drug").count() == 2

    phone.reload()  # a closed tab, a weak network: everything typed is still here
    assert progress(phone).startswith("第 3 步")
    assert phone.locator("#draft-message").inner_text() == "已恢复您之前在本手机上填写的内容。"
    assert "只暂存在这部手机的浏览器里" in phone.locator("#draft").inner_text()
    assert phone.input_value('[name="drugs-1-generic_name"]') == "布洛芬缓释胶囊"
    assert phone.input_value('[name="event-description"]') == REACTION["event-description"]
    assert phone.is_checked('[name="event-outcome"][value="improving"]')

    next_step(phone)
    fill_form(phone, PATIENT)
    phone.locator("section[data-step]:visible").get_by_role("button", name="上一步").click()
    assert phone.input_value('[name="drugs-0-generic_name"]') == "阿莫西林胶囊"
    next_step(phone)
    assert phone.input_value('[name="patient-name"]') == "ZS"
    next_step(phone)
    assert step_title(phone) == "怎样联系您"
    fill_form(phone, REPORTER)
    next_step(phone)

    assert progress(phone).startswith("第 6 步，共 6 步")
    review = phone.locator("#review").inner_text()
    for shown in ("皮疹", "阿莫西林胶囊", "LOT 240517a", "布洛芬缓释胶囊", "ZS", "张三", "好转"):
        assert shown in review
    phone.check('[name="reporter-consent_privacy"]')
    phone.click("#send-report")
    phone.wait_for_url(re.compile(r"/report/submitted/"))

    reference = phone.locator("#report-reference").inner_text()
    report = live_server.stored(reference)
    assert [d.generic_name for d in report.drugs] == ["阿莫西林胶囊", "布洛芬缓释胶囊"]
    assert report.drugs[0].batch_number == "240517A"
    assert (report.event_name, report.patient_name, report.reporter_name) == ("皮疹", "ZS", "张三")
    assert phone.evaluate("Object.keys(localStorage)") == []  # received: the copy is erased
    phone.goto("/report")
    assert phone.locator("#draft").is_hidden()
    assert phone.input_value('[name="event-name"]') == ""


def test_each_step_fits_about_two_phone_screens_with_one_drug(phone):
    phone.goto("/report")
    screen = phone.viewport_size["height"]
    for _ in range(6):
        height = phone.locator("section[data-step]:visible").bounding_box()["height"]
        assert height <= 2.5 * screen, (step_title(phone), height)
        if progress(phone).startswith("第 6 步"):
            break
        phone.evaluate("document.querySelectorAll('[required]').forEach(e => e.required = false)")
        next_step(phone)


def test_the_holder_form_questions_show_where_they_apply_and_fit_their_steps(phone, live_server):
    """A medicine of ours offers its own strengths, an expiry date far off is caught at its
    step, and the pregnancy question shows for a woman of 12 to 55 at the reaction only."""
    with live_server.app.app_context():
        db.session.add(
            Product(
                generic_name="阿莫西林胶囊",
                approval_number="国药准字H61020123",
                manufacturer=COMPANY,
                dosage_form="胶囊剂",
                strengths=["0.25g", "0.5g"],
            )
        )
        db.session.commit()
    phone.goto("/report")
    screen = phone.viewport_size["height"]
    for fields in (WHO, REACTION):
        fill_form(phone, fields)
        next_step(phone)
    strength = phone.locator('[name="drugs-0-strength"]')
    assert strength.is_hidden()  # asked of a medicine of ours only
    fill_form(phone, {"drugs-0-generic_name": "阿莫西林胶囊", "drugs-0-expiry_date": "2099-01-01"})
    assert strength.is_visible()
    offered = strength.evaluate("input => Array.from(input.list.options, o => o.value)")
    assert offered == ["0.25g", "0.5g"]
    next_step(phone)
    assert "请核对药盒上的有效期" in phone.locator("#drugs-0-expiry_date-check").inner_text()
    fill_form(phone, {"drugs-0-strength": "0.5g", "drugs-0-expiry_date": "2028-03-31"})
    assert phone.locator("#drugs").bounding_box()["height"] <= 2.5 * screen
    next_step(phone)

    pregnant = phone.locator("#patient-pregnant")
    assert step_title(phone) == "患者信息" and pregnant.is_hidden()
    fill_form(phone, {"patient-sex": "female", "patient-age": "30"})
    assert pregnant.is_visible()
    assert "当时是否怀孕？" in pregnant.inner_text()
    assert phone.locator("#patient").bounding_box()["height"] <= 2.5 * screen
    phone.check('[name="patient-sex"][value="male"]')
    assert pregnant.is_hidden()
    fill_form(phone, {"patient-sex": "female", "patient-age": "70"})
    assert pregnant.is_hidden()
    fill_form(phone, {"patient-age": "", "patient-birth_date": "1996-03-14"})  # 30 at the onset
    assert pregnant.is_visible()
    phone.check('[name="patient-pregnant"][value="yes"]')
    fill_form(phone, {"patient-birth_date": "1956-03-14"})
    assert pregnant.is_visible()  # an answer is never hidden: the server says what is wrong


def test_a_refused_send_opens_the_step_holding_the_first_error(phone, live_server):
    phone.goto("/report")
    fill_to_the_review(phone, REPORTER | {"reporter-phone": "0000000000"})
    with phone.expect_navigation():
        phone.click("#send-report")  # the server refuses the phone number the browser let through

    assert phone.locator("#error-summary").is_visible()
    assert phone.evaluate("document.activeElement.id") == "error-summary"
    assert step_title(phone) == "怎样联系您"
    assert phone.locator('[name="reporter-phone"]').is_visible()
    assert phone.input_value('[name="reporter-phone"]') == "0000000000"
    phone.fill('[name="reporter-phone"]', "13912345678")
    next_step(phone)
    phone.click("#send-report")
    phone.wait_for_url(re.compile(r"/report/submitted/"))


def test_a_send_that_fails_on_the_way_is_offered_again_and_stored_once(phone, live_server):
    phone.goto("/report")
    fill_to_the_review(phone)
    phone.route("**/report", lambda route: route.abort() if route.request.method == "POST"
                else route.continue_())  # fmt: skip
    with pytest.raises(Exception, match="net::ERR_FAILED"), phone.expect_navigation():
        phone.click("#send-report")
    phone.unroute("**/report")

    phone.goto("/report")
    assert "可能没有送达" in phone.locator("#draft-message").inner_text()
    assert progress(phone).startswith("第 6 步")
    phone.click("#send-report")
    phone.wait_for_url(re.compile(r"/report/submitted/"))
    assert live_server.stored(phone.locator("#report-reference").inner_text())


def test_a_change_after_a_failed_send_is_stored_not_lost_behind_the_first(phone, live_server):
    phone.goto("/report")
    fill_to_the_review(phone)
    answer_lost = {"first": True}

    def lose_the_first_answer(route):
        if route.request.method == "POST" and answer_lost.pop("first", False):
            route.fetch()  # the report arrives; its answer never reaches the phone
            route.abort()
        else:
            route.continue_()

    phone.route("**/report", lose_the_first_answer)
    with pytest.raises(Exception, match="net::ERR_FAILED"), phone.expect_navigation():
        phone.click("#send-report")
    phone.wait_for_function("location.href.startsWith('chrome-error:')")
    phone.goto("/report")
    assert "可能没有送达" in phone.locator("#draft-message").inner_text()
    phone.fill('[name="remarks"]', "补充：停药后第三天皮疹消退。")
    phone.click("#send-report")
    phone.wait_for_url(re.compile(r"/report/submitted/"))
    report = live_server.stored(phone.locator("#report-reference").inner_text())
    assert report.remarks == "补充：停药后第三天皮疹消退。"  # a new report, not the first again


def test_a_pack_link_or_a_follow_up_reference_opens_its_own_form_not_a_draft(phone, live_server):
    phone.goto("/report")
    for fields in (WHO, REACTION):
        fill_form(phone, fields)
        next_step(phone)
    fill_form(phone, MEDICINE)
    phone.goto("/report?product=布洛芬缓释胶囊&batch=LOT%20B2")
    assert phone.input_value('[name="drugs-0-generic_name"]') == "布洛芬缓释胶囊"
    assert phone.input_value('[name="drugs-0-batch_number"]') == "B2"
    assert phone.locator("#draft").is_hidden()
    reference = live_server.send_report()
    phone.goto(f"/report?follow_up_of={reference}")
    assert phone.input_value('[name="follow_up_of"]') == reference
    phone.goto("/report")
    assert phone.input_value('[name="drugs-0-batch_number"]') == MEDICINE["drugs-0-batch_number"]


def test_a_step_says_how_many_answers_it_still_needs(phone):
    phone.goto("/report")
    fill_form(phone, WHO)
    next_step(phone)
    fill_form(phone, {"event-onset_date": "2099-01-01"})  # a date to come: its own step says so
    phone.press('[name="event-onset_date"]', "Enter")
    status = phone.locator("#step-status")
    assert status.get_attribute("role") == "status"
    assert status.inner_text() == "本步骤还有 2 项需要填写。"
    assert phone.evaluate("document.activeElement.name") == "event-name"
    assert "这个日期还没到" in phone.locator("#event-onset_date-check").inner_text()
    assert phone.get_attribute('[name="event-onset_date"]', "max")  # the picker stops at today


def test_a_phone_number_too_short_is_caught_at_its_own_step(phone):
    """The review's 1381234 passed every step and was refused only after sending."""
    phone.goto("/report")
    for fields in (WHO, REACTION, MEDICINE, PATIENT):
        fill_form(phone, fields)
        next_step(phone)
    fill_form(phone, {"reporter-phone": "1381234"})
    next_step(phone)
    assert step_title(phone) == "怎样联系您"  # it stays, with the server's own message
    assert "139 1234 5678" in phone.locator("#reporter-phone-check").inner_text()
    phone.fill('[name="reporter-phone"]', "13812345678")
    next_step(phone)
    assert progress(phone).startswith("第 6 步")
    review = phone.locator("#review").inner_text()
    assert "还没有填写" in review and "您的姓名" in review  # listed, not an error


def test_death_is_asked_once_the_other_death_choices_follow_the_outcome(phone):
    phone.goto("/report")
    fill_form(phone, {"reporter-kind": "physician", "reporter-organization_type": "hospital"})
    next_step(phone)
    serious_death = phone.locator('[name="event-serious"][value="death"]')
    impact_death = phone.locator('[name="event-disease_impact"][value="death"]')
    assert serious_death.is_hidden() and impact_death.is_hidden()
    phone.check('[name="event-outcome"][value="death"]')
    assert serious_death.is_checked() and impact_death.is_visible()
    assert phone.locator('[name="event-death_cause"]').is_visible()
    phone.check('[name="event-outcome"][value="recovered"]')
    assert not serious_death.is_checked() and serious_death.is_hidden()


def test_a_new_form_from_clear_and_start_again(phone):
    phone.goto("/report")
    fill_form(phone, WHO)
    next_step(phone)
    fill_form(phone, {"event-name": "头晕"})
    phone.reload()
    assert phone.input_value('[name="event-name"]') == "头晕"
    with phone.expect_navigation():
        phone.click("#draft-discard")
    assert phone.input_value('[name="event-name"]') == ""
    assert phone.evaluate("Object.keys(localStorage)") == []


def test_the_mailed_private_link_opens_a_follow_up_tied_to_the_case(phone, live_server):
    """The "done when" story: step by step on a phone, a reload halfway, the mail, the link."""
    phone.goto("/report")
    for fields in (WHO, REACTION, MEDICINE):
        fill_form(phone, fields)
        next_step(phone)
    phone.reload()
    fill_form(phone, PATIENT)
    next_step(phone)
    fill_form(phone, REPORTER | {"reporter-email": "zhangsan@example.com"})
    next_step(phone)
    phone.check('[name="reporter-consent_privacy"]')
    phone.click("#send-report")
    phone.wait_for_url(re.compile(r"/report/submitted/"))
    reference = phone.locator("#report-reference").inner_text()
    assert "专用链接发送到您填写的电子邮箱" in phone.locator("main").inner_text()

    mails = live_server.inbox.wait_for(2)
    [acknowledgement] = [m for m in mails if "zhangsan@example.com" in m["To"]]
    text = body(acknowledgement, "plain")
    [path] = re.findall(r"https?://[^/\s]+(/report/follow-up/[\w-]+)", text)
    assert reference not in path

    phone.goto(path)
    assert phone.locator("#follow-up-to").inner_text().endswith(reference)
    page_text = phone.locator("main").inner_text()
    for earlier in (REACTION["event-description"], "阿莫西林胶囊", "240517", "张三", "13912345678"):
        assert earlier not in page_text  # nothing of the earlier report on the page
    fill_form(phone, WHO)
    next_step(phone)
    fill_form(phone, REACTION | {"event-outcome": "recovered"})
    for fields in (MEDICINE, PATIENT, REPORTER):
        next_step(phone)
        fill_form(phone, fields)
    next_step(phone)
    phone.check('[name="reporter-consent_privacy"]')
    phone.click("#send-report")
    phone.wait_for_url(re.compile(r"/report/submitted/"))
    follow_up = live_server.stored(phone.locator("#report-reference").inner_text())
    first = live_server.stored(reference)
    assert (follow_up.case_id, follow_up.follow_up_of_id) == (first.case_id, first.id)
    assert follow_up.event_outcome == "recovered"


PHONES = [
    "139 1234 5678", "0912-5647197", "400-840-1008", "+86 138 0013 8000", "+44 20 7946 0958",
    "95588", "１３８００１３８０００", "138－0013－8000", "0912-5647197 ext. 8021",
    "0912-5647197#8021", "00 44 20 7946 0958", "00852 21234567", "0912/5647197", "1381234",
    "12345", "1391234567", "+12345678",
]  # fmt: skip


def test_the_pages_phone_check_never_refuses_a_number_the_server_takes(phone):
    from adr.intake.forms import phone_e164

    phone.goto("/report")
    source = phone.evaluate(
        "fetch(document.querySelector('script[src*=form]').src).then(r => r.text())"
    )
    check = re.search(r"  function phoneProblem\(value\) \{.*?\n  \}\n", source, re.S).group(0)
    for number in PHONES:
        refused = phone.evaluate("(v) => { " + check + " return phoneProblem(v); }", number)
        assert not (refused and phone_e164(number)), number  # the server stays the judge
    assert phone.evaluate("(v) => { " + check + " return phoneProblem(v); }", "1381234")
