"""The reviewer's workspace (issue 21): triage at the top of a case in one save, a queue by
deadline with assignment, saved filters and bulk actions that pass the approvals."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from adr import accounts, regulatory
from adr.extensions import db
from adr.models import AuditEntry, Case, Report, SavedFilter, User
from tests.conftest import hidden_inputs
from tests.test_integrity import (
    DEATH,
    PASSWORD,
    REVIEWER,
    SECOND,
    assess,
    case_page,
    days_ago,
    decide,
    four_eyes,  # noqa: F401 - a fixture
    heard,
    pending,
    signed_in,
    stored,
)

SERIOUS = {"event-serious": ["hospitalization"], "event-outcome": "improving"}


@pytest.fixture
def team(app):
    """Four-eyes off (the tests' default), two reviewers."""
    with app.app_context():
        accounts.create_user(REVIEWER, "安娜", "reviewer", PASSWORD, "test")
        accounts.create_user(SECOND, "李明", "reviewer", PASSWORD, "test")
    return app


def user_id(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(User.id).where(User.email == email))


def listed(client, query: str = "") -> list[str]:
    """Return the references the list shows, in order."""
    page = client.get(f"/staff/reports{query}").get_data(as_text=True)
    return re.findall(r'<tr class="[^"]*" id="row-([^"]+)"', page)


def post(client, path: str, page_path: str = "/staff/reports", **data: object):
    token = hidden_inputs(client.get(page_path).get_data(as_text=True))["csrf_token"]
    return client.post(path, data={"csrf_token": token} | data)


def test_the_queue_puts_the_soonest_deadline_first_and_what_owes_nothing_last(team):
    client = signed_in(team)
    general = heard(client, days_ago(2))  # due in 28 days
    overdue = heard(client, days_ago(20), **SERIOUS)  # due 5 days ago
    death = heard(client, days_ago(0), **DEATH)  # due at the end of tomorrow
    serious = heard(client, days_ago(1), **SERIOUS)  # due in 14 days
    sent = heard(client, days_ago(3), **SERIOUS)
    assess(client, sent, status="in_review")
    assess(client, sent, status="assessed")
    assert (
        assess(
            client, sent, status="submitted", submitted_to_regulator_on=days_ago(1),
            national_case_number="2026000001",
        ).status_code
        == 303
    )  # fmt: skip
    incomplete = heard(client, days_ago(0), **{"patient-name": "", "patient-age": ""})

    order = listed(client)  # the default: by deadline
    assert order[:4] == [overdue, death, serious, general]
    assert set(order[4:]) == {sent, incomplete}  # owe nothing (yet): newest received first
    assert order[4:] == [incomplete, sent]
    assert listed(client, "?sort=received") == [incomplete, sent, serious, death, overdue, general]
    by_status = listed(client, "?sort=status")
    assert by_status[-1] == sent and by_status[0] == overdue  # received first, by deadline
    page = client.get("/staff/reports").get_data(as_text=True)
    assert '<option value="due" selected>' in page


def test_a_case_is_assigned_audited_and_found_by_its_reviewer(team):
    client, other = signed_in(team), signed_in(team, SECOND)
    mine, theirs, nobodys = (heard(client, days_ago(n), **SERIOUS) for n in (1, 2, 3))
    me, second = user_id(team, REVIEWER), user_id(team, SECOND)
    path = f"/staff/reports/{mine}"
    assert post(client, f"{path}/assign", path, assignee=str(me)).status_code == 303
    assert (
        post(client, f"/staff/reports/{theirs}/assign", path, assignee=str(second)).status_code
        == 303
    )
    for unknown in ("999999", "99999999999999999999", "-1"):  # refused, never a 500
        assert post(client, f"{path}/assign", path, assignee=unknown).status_code == 303
    assert client.get("/staff/reports?assigned=99999999999999999999").status_code == 200
    with team.app_context():
        assert db.session.scalar(sa.select(Case.assigned_to_id).join(Report).where(
            Report.reference == mine)) == me  # fmt: skip

    assert listed(client, "?assigned=me&open=1") == [mine]
    assert listed(other, "?assigned=me&open=1") == [theirs]
    assert listed(client, "?assigned=none") == [nobodys]
    assert listed(client, f"?assigned={second}") == [theirs]
    assert "安娜" in case_page(client, mine).split('id="summary"')[1].split("</header>")[0]

    post(client, f"{path}/assign", path, assignee=str(second))  # reassigned
    post(client, f"{path}/assign", path, assignee="")  # and unassigned
    with team.app_context():
        moves = db.session.execute(
            sa.select(AuditEntry.actor, AuditEntry.old_value, AuditEntry.new_value)
            .where(AuditEntry.action == "case assigned")
            .order_by(AuditEntry.id)
        ).all()
    assert [tuple(m) for m in moves] == [
        (REVIEWER, None, REVIEWER),
        (REVIEWER, None, SECOND),
        (REVIEWER, REVIEWER, SECOND),
        (REVIEWER, SECOND, None),
    ]
    dashboard = client.get("/staff/").get_data(as_text=True)
    workloads = dashboard.split('id="workloads"')[1].split("</section>")[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", workloads, re.S)[1:]
    counts = {
        re.search(r">([^<]+)</a>", row)[1]: re.findall(r"<td[^>]*>(\d+)</td>", row) for row in rows
    }
    assert counts == {"安娜": ["0"], "李明": ["1"], "未分配": ["2"]}


def test_saved_filters_belong_to_their_maker(team):
    client, other = signed_in(team), signed_in(team, SECOND)
    serious = heard(client, days_ago(1), **SERIOUS)
    heard(client, days_ago(1))
    saved = post(client, "/staff/filters", name="严重待办", query="serious=1&open=1&page=3")
    assert saved.status_code == 303 and saved.location.endswith("/staff/reports?serious=1&open=1")
    page = client.get("/staff/reports").get_data(as_text=True)
    assert '<a href="/staff/reports?serious=1&amp;open=1">严重待办</a>' in page
    assert "严重待办" not in other.get("/staff/reports").get_data(as_text=True)
    assert listed(client, "?serious=1&open=1") == [serious]
    post(client, "/staff/filters", name="严重待办", query="serious=1")  # the same name: replaced
    assert post(client, "/staff/filters", name="", query="serious=1").status_code == 303  # refused
    with team.app_context():
        kept = db.session.execute(sa.select(SavedFilter.id, SavedFilter.query)).all()
    assert [q for _, q in kept] == ["serious=1"]
    post(other, f"/staff/filters/{kept[0][0]}/delete")  # not theirs: nothing happens
    with team.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SavedFilter)) == 1
    post(client, f"/staff/filters/{kept[0][0]}/delete")
    with team.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SavedFilter)) == 0


def bulk(client, **data: object):
    return post(client, "/staff/reports/bulk", **data)


def assessed_cases(client, count: int) -> list[str]:
    references = [heard(client, days_ago(2 + n), **SERIOUS) for n in range(count)]
    for reference in references:
        assert (
            assess(
                client,
                reference,
                status="assessed",
                expectedness="listed",
                company_causality="probable",
            ).status_code
            == 303
        )  # received → assessed in one step, the assessment complete
    return references


def test_a_bulk_mark_sent_takes_one_date_and_a_number_a_row(team):
    client = signed_in(team)
    first, second, third = assessed_cases(client, 3)
    numbers = {
        f"national_case_number-{r}": f"20260000{n}" for n, r in enumerate((first, second, third))
    }
    done = bulk(
        client, bulk_action="sent", sent_on=days_ago(0), selected=[first, second, third], **numbers
    )
    assert done.status_code == 303
    for n, reference in enumerate((first, second, third)):
        report = stored(team, reference)
        assert report.case.status == "submitted"
        assert report.case.national_case_number == f"20260000{n}"
        assert report.submitted_to_regulator_on == regulatory.china_today()
    assert listed(client)[-3:] == [third, second, first]  # owe nothing now: newest first
    closed = bulk(client, bulk_action="close", selected=[first, second])
    assert closed.status_code == 303
    assert [stored(team, r).case.status for r in (first, second, third)] == [
        "closed",
        "closed",
        "submitted",
    ]


def test_a_refused_bulk_action_does_nothing_and_keeps_every_value(team):
    client = signed_in(team)
    (ready,) = assessed_cases(client, 1)
    fresh = heard(client, days_ago(1), **SERIOUS)  # not assessed: cannot be marked sent
    refused = bulk(
        client, bulk_action="sent", sent_on=days_ago(0), selected=[ready, fresh],
        **{f"national_case_number-{ready}": "2026000077"},
        **{f"national_case_number-{fresh}": "2026000078"},
    )  # fmt: skip
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="error-summary"' in html and f'href="#row-{fresh}"' in html
    assert "“已接收”转为“已上报”" in html  # the reason, beside its row
    assert 'value="2026000077"' in html and 'value="2026000078"' in html
    assert html.count(" checked>") >= 2 and f'value="{days_ago(0)}"' in html
    assert stored(team, ready).case.status == "assessed"  # nothing was done
    assert bulk(client, bulk_action="sent", sent_on="", selected=[ready]).status_code == 422
    assert bulk(client, bulk_action="", selected=[ready]).status_code == 422
    assert bulk(client, bulk_action="close", selected=[]).status_code == 422
    off_site = bulk(
        client, bulk_action="assign", assignee="", selected=[ready], back="//evil.example/"
    )
    assert off_site.status_code == 303 and off_site.location == "/staff/reports"
    assert bulk(client, bulk_action="assign", assignee="999", selected=[ready]).status_code == 422


def test_bulk_actions_pass_through_four_eyes(four_eyes):  # noqa: F811 - the fixture
    client, second = signed_in(four_eyes), signed_in(four_eyes, SECOND)
    references = assessed_cases(client, 3)
    numbers = {f"national_case_number-{r}": f"2026100{n}" for n, r in enumerate(references)}
    assert (
        bulk(
            client, bulk_action="sent", sent_on=days_ago(0), selected=references, **numbers
        ).status_code
        == 303
    )
    waiting = pending(four_eyes)
    assert sorted(r.kind for r in waiting) == ["sent"] * 3
    assert all(stored(four_eyes, r).case.status == "assessed" for r in references)  # not yet
    for request in waiting:
        assert decide(second, request.id, "approve").status_code == 303
    for n, reference in enumerate(references):
        case = stored(four_eyes, reference).case
        assert (case.status, case.national_case_number) == ("submitted", f"2026100{n}")
    assign = bulk(
        client, bulk_action="assign", assignee=str(user_id(four_eyes, SECOND)), selected=references
    )
    assert assign.status_code == 303  # assigning needs no second person
    assert listed(second, "?assigned=me") == sorted(references, key=references.index, reverse=True)


def test_received_to_assessed_in_one_save_only_when_the_assessment_is_complete(team):
    client = signed_in(team)
    reference = heard(client, days_ago(1))
    refused = assess(client, reference, status="assessed", expectedness="listed")
    assert refused.status_code == 422
    assert "要从“已接收”直接转为“已评价”" in refused.get_data(as_text=True)
    saved = assess(
        client, reference, status="assessed", expectedness="new", company_causality="possible",
        note="皮疹与用药时间相符",
    )  # fmt: skip
    assert saved.status_code == 303
    case = stored(team, reference).case
    assert (case.status, case.expectedness, case.company_causality) == (
        "assessed",
        "new",
        "possible",
    )


def test_save_and_next_opens_the_next_case_of_the_queue(team):
    client = signed_in(team)
    first, second = heard(client, days_ago(1)), heard(client, days_ago(2))
    saved = assess(client, first, status="in_review", then="next", next=second)
    assert saved.status_code == 303 and saved.location.endswith(f"/staff/reports/{second}")
    plain = assess(client, first, status="in_review", then="next", next="<script>")
    assert plain.location.endswith(f"/staff/reports/{first}")  # no valid next: back to the case


def test_the_case_opens_with_its_summary_then_triage_then_the_rest(team):
    client = signed_in(team)
    reference = heard(client, days_ago(0), **DEATH)
    page = case_page(client, reference)
    summary = page.split('id="summary"')[1].split("</header>")[0]
    assert "立即" in summary and "未分配" in summary and "批号" in summary and "E2B" in summary
    order = [page.index(f'id="{anchor}"') for anchor in (
        "summary", "assessment", "case-reports", "current", "corrections", "holder", "reactions",
        "e2b", "documents",
        "mails-section", "audit-section",
    )]  # fmt: skip
    assert order == sorted(order)
    links = re.findall(
        r'<a href="#([\w-]+)">', page.split('class="sections"')[1].split("</nav>")[0]
    )
    assert len(links) == 10 and all(f'id="{anchor}"' in page for anchor in links)
    assert 'src="/static/staff.js?v=' in page


def test_the_shortcut_to_assessed_waits_when_part_of_the_assessment_does(four_eyes):  # noqa: F811
    """Received → assessed only when everything it rests on takes effect now."""
    client = signed_in(four_eyes)
    reference = heard(client, days_ago(1))
    full = {"expectedness": "listed", "company_causality": "possible"}
    refused = assess(
        client, reference, status="assessed", assessed_serious=["hospitalization"], **full
    )
    assert refused.status_code == 422  # a deadline moved: that waits for a second person
    assert "本次评价中有部分内容须经第二人复核" in refused.get_data(as_text=True)
    assert stored(four_eyes, reference).case.status == "received"
    assert assess(client, reference, status="assessed", **full).status_code == 303
    assert stored(four_eyes, reference).case.status == "assessed"


def test_a_refused_bulk_action_comes_back_as_the_list_it_was_posted_from(team):
    client = signed_in(team)
    older = heard(client, days_ago(3), **SERIOUS)
    newer = heard(client, days_ago(1))
    back = "/staff/reports?sort=received&serious=1"
    refused = bulk(client, bulk_action="sent", sent_on="", selected=[older], back=back)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    rows = re.findall(r'<tr class="[^"]*" id="row-([^"]+)"', html)
    assert rows == [older] and newer not in rows  # the list it came from: serious only
    assert f'value="{older}" aria-label' in html and " checked>" in html
    assert f'name="back" value="{back.replace("&", "&amp;")}"' in html
    assert 'action="/staff/reports" class="filters"' in html  # filtering leaves the bulk page
    done = bulk(client, bulk_action="assign", assignee="", selected=[older], back=back)
    assert done.location == back


def test_odd_numbers_never_break_the_queue(team):
    client = signed_in(team)
    reference = heard(client, days_ago(1))
    path = f"/staff/reports/{reference}"
    for odd in ("²", "٣", "1" * 30, "-1", "0"):
        assert client.get(f"/staff/reports?assigned={odd}").status_code == 200
        assert post(client, f"{path}/assign", path, assignee=odd).status_code == 303
        assert (
            bulk(client, bulk_action="assign", assignee=odd, selected=[reference]).status_code
            == 422
        )
    assert post(client, "/staff/filters/99999999999999999999999/delete").status_code == 404
    nul = bulk(client, bulk_action="", selected=[reference], back="/staff/reports?q=%00&batch=A%00")
    assert nul.status_code == 422  # the list it came from, cleaned as every request is
    too_many = bulk(
        client, bulk_action="close", selected=[f"ADR-202612-{n:06d}" for n in range(201)]
    )
    assert too_many.status_code == 422 and "最多" in too_many.get_data(as_text=True)
    long_name = post(client, "/staff/filters", name="名" * 61, query="serious=1")
    assert long_name.status_code == 303
    with team.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SavedFilter)) == 0


def test_a_deactivated_reviewers_open_cases_stay_in_view(team):
    client = signed_in(team)
    reference = heard(client, days_ago(1), **SERIOUS)
    second = user_id(team, SECOND)
    assert (
        bulk(client, bulk_action="assign", assignee=str(second), selected=[reference]).status_code
        == 303
    )
    with team.app_context():
        accounts.set_active(SECOND, False, "test")
    dashboard = client.get("/staff/").get_data(as_text=True).split('id="workloads"')[1]
    assert "李明" in dashboard and "已停用" in dashboard
    listing = client.get("/staff/reports").get_data(as_text=True)
    assert f'<option value="{second}">李明 (已停用)</option>' in listing
    page = case_page(client, reference).split('id="summary"')[1].split("</header>")[0]
    assert f'<option value="{second}" selected>李明 (已停用)</option>' in page


def test_bulk_mark_sent_refuses_what_it_cannot_date_rightly(team):
    client = signed_in(team)
    first, second = assessed_cases(client, 2)
    follow_up = heard(client, days_ago(1), follow_up_of=first, **{"event-name": "皮疹加重"})
    refused = bulk(
        client, bulk_action="sent", sent_on=days_ago(0), selected=[first, follow_up, second],
        **{f"national_case_number-{first}": "2026000001",
           f"national_case_number-{follow_up}": "2026000002",
           f"national_case_number-{second}": "2026000003"},
    )  # fmt: skip
    assert refused.status_code == 422
    assert "同一病例的各行填写了不同的国家系统报告编号" in refused.get_data(as_text=True)
    numbers = {f"national_case_number-{second}": "2026000003"}
    sent = bulk(client, bulk_action="sent", sent_on=days_ago(0), selected=[second], **numbers)
    assert sent.status_code == 303
    again = bulk(client, bulk_action="sent", sent_on=days_ago(0), selected=[second])
    assert again.status_code == 422 and "均已上报" in again.get_data(as_text=True)


def test_save_and_next_says_which_case_was_saved(team):
    client = signed_in(team)
    first, second = heard(client, days_ago(1)), heard(client, days_ago(2))
    saved = assess(client, first, status="in_review", then="next", next=second)
    page = client.get(saved.location).get_data(as_text=True)
    assert f"病例 {first}:" in page and "已保存" in page
