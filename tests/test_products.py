"""The company's products: which reported drugs are ours."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from adr import meddra, products
from adr.extensions import db
from adr.models import AuditEntry, Batch, Drug, Product, Report
from adr.products import edit_distance, reaction_terms, same_maker
from tests.conftest import COMPANY
from tests.meddra_fixture import NOT_CURRENT, PRURITUS, RASH
from tests.test_coding import coded
from tests.test_review import ADMIN, REVIEWER, case_of, csrf, signed_in, staff, submit, trail

__all__ = ["coded", "staff"]  # fixtures

AMOXICILLIN = {
    "generic_name": "阿莫西林胶囊",
    "brand_name": "天宁",
    "approval_number": "国药准字H61020123",
    "manufacturer": COMPANY,
}


@pytest.fixture
def catalogue(app):
    with app.app_context():
        db.session.add_all(
            [
                Product(**AMOXICILLIN),
                Product(
                    generic_name="复方丹参片",
                    brand_name="天宁",  # a brand two products carry names neither
                    approval_number="国药准字Z61020432",
                    manufacturer=COMPANY,
                ),
            ]
        )
        db.session.commit()
    return app


@pytest.mark.parametrize(
    ("typed", "ours"),
    [
        (None, True),
        ("", True),
        ("制药厂", True),  # tells no company from another
        (COMPANY, True),
        ("天宁制药", True),
        ("陕西天宁", True),
        ("Tianning Pharmaceutical Co., Ltd.", True),
        ("华北制药股份有限公司", False),
        ("Pfizer", False),
    ],
)
def test_a_manufacturer_is_ours_when_it_shares_a_distinctive_part(typed, ours):
    assert same_maker(typed, [COMPANY, "Tianning Pharmaceutical Co., Ltd."]) is ours


@pytest.mark.parametrize(
    ("drug", "product"),
    [
        ({}, "阿莫西林胶囊"),  # the approval number
        ({"drugs-0-approval_number": "H 61020123"}, "阿莫西林胶囊"),
        ({"drugs-0-approval_number": "", "drugs-0-generic_name": "阿莫西林 胶囊"}, "阿莫西林胶囊"),
        ({"drugs-0-approval_number": "", "drugs-0-generic_name": "复方丹参片"}, "复方丹参片"),
        (
            {"drugs-0-approval_number": "", "drugs-0-generic_name": "某某片"},
            None,
        ),  # brand 天宁 is two
        ({"drugs-0-manufacturer": "华北制药股份有限公司"}, None),
        ({"drugs-0-approval_number": "国药准字H13022552", "drugs-0-generic_name": "头孢"}, None),
    ],
)
def test_a_stored_drug_is_matched_to_a_product(catalogue, drug, product):
    reference = submit(catalogue, drug)
    with catalogue.app_context():
        matched = db.session.execute(
            sa.select(Product.generic_name, Drug.role)
            .select_from(Drug)
            .join(Report)
            .outerjoin(Product)
            .where(Report.reference == reference)
            .order_by(Drug.position)
        ).all()
    assert matched == [(product, "suspect"), (None, "concomitant")]


# The catalogue page.


def product_form(client, **fields):
    data = {
        "generic_name": "板蓝根颗粒",
        "brand_name": "天宁",
        "approval_number": "国药准字Z61021234",
        "manufacturer": COMPANY,
        "listed_reactions": "皮疹\n恶心",
        "csrf_token": csrf(client),
    }
    return data | fields


def test_only_admins_keep_the_catalogue(staff):
    reviewer = signed_in(staff, REVIEWER)
    assert reviewer.get("/staff/products").status_code == 403
    assert reviewer.post("/staff/products", data=product_form(reviewer)).status_code == 403
    assert "/staff/products" not in reviewer.get("/staff/").get_data(as_text=True)
    admin = signed_in(staff, ADMIN)
    page = admin.get("/staff/products").get_data(as_text=True)
    assert 'href="/staff/products"' in page and f'value="{COMPANY}"' in page  # the default maker


def test_an_admin_adds_and_edits_a_product_audited(staff):
    admin = signed_in(staff, ADMIN)
    added = admin.post(
        "/staff/products", data=product_form(admin, approval_number="国药准字 z61021234")
    )
    assert added.status_code == 303
    with staff.app_context():
        product = db.session.scalar(sa.select(Product))
        assert (product.approval_number, product.listed_reactions) == (
            "国药准字Z61021234",
            ["皮疹", "恶心"],
        )
        product_id = product.id
    edited = admin.post(
        f"/staff/products/{product_id}",
        data=product_form(
            admin, approval_number="国药准字Z61021234", listed_reactions="皮疹、瘙痒"
        ),
    )
    assert edited.status_code == 303
    page = admin.get(f"/staff/products/{product_id}").get_data(as_text=True)
    assert "皮疹\n瘙痒</textarea>" in page
    actions = [(e.action, e.field, e.new_value) for e in trail(staff) if "product" in e.action]
    assert actions[0][:2] == ("product added", "国药准字Z61021234")
    assert actions[1:] == [
        ("product changed", "国药准字Z61021234 listed_reactions", '["皮疹", "瘙痒"]')
    ]


@pytest.mark.postgresql_only
def test_a_product_saved_waits_for_a_report_holding_any_product_before_it_writes(staff):
    """A save updates its product's row, then counts again each case it links, whose other
    products a report being stored may hold while it waits for the saved one: the save takes
    every product's row first, in id order, as the report does."""
    import threading

    from tests.test_batches import wait_for

    admin = signed_in(staff, ADMIN)
    for number in ("国药准字Z61021234", "国药准字H20000001"):
        added = admin.post("/staff/products", data=product_form(admin, approval_number=number))
        assert added.status_code == 303
    with staff.app_context():
        first, second = db.session.scalars(sa.select(Product.id).order_by(Product.id))
        storing = db.engine.connect()  # a report of the first product being stored
        held = sa.select(Product.id).where(Product.id == first).with_for_update(key_share=True)
        storing.execute(held).all()
        saved: list[int] = []
        form = product_form(admin, approval_number="国药准字H20000001", listed_reactions="头痛")
        save = threading.Thread(
            target=lambda: saved.append(
                admin.post(f"/staff/products/{second}", data=form).status_code
            )
        )
        save.start()
        try:
            wait_for(1)  # the save waits for the first product, holding nothing
            storing.execute(sa.text("SET LOCAL lock_timeout = '5s'"))
            other = sa.select(Product.id).where(Product.id == second)
            storing.execute(other.with_for_update(key_share=True)).all()  # would wait
        finally:
            storing.commit()
            storing.close()
            save.join(20)
    assert saved == [303]


def test_bad_input_is_kept_with_a_message_and_everything_is_escaped(staff):
    admin = signed_in(staff, ADMIN)
    admin.post("/staff/products", data=product_form(admin, brand_name="<b>天宁</b>"))
    refused = admin.post(
        "/staff/products",
        data=product_form(
            admin, generic_name="<script>x</script>", approval_number="国药准字Z61021234"
        ),
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "<script>x" not in page
    assert "&lt;b&gt;天宁&lt;/b&gt;" in page and "<b>天宁" not in page
    assert 'id="error-summary"' in page
    missing = admin.post(
        "/staff/products", data=product_form(admin, generic_name="", approval_number="X1")
    )
    assert missing.status_code == 422 and 'value="X1"' in missing.get_data(as_text=True)
    with staff.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Product)) == 1


def test_a_report_received_before_its_product_is_matched_when_it_is_added(staff):
    reference = submit(staff)
    admin = signed_in(staff, ADMIN)
    assert batch_result(admin, reference) == "not-ours"
    admin.post("/staff/products", data=product_form(admin, **AMOXICILLIN, listed_reactions="皮疹"))
    page = admin.get(f"/staff/reports/{reference}").get_data(as_text=True)
    assert batch_result(admin, reference) == "unknown"  # its batch 20260315A is not registered
    assert 'data-suggested="new"' in page  # 瘙痒 is not in the label
    assert case_of(staff, reference).suggested_expectedness == "new"


# The batch check.


def batch_result(client, reference: str) -> str:
    page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    return re.search(r'id="batch-check" data-result="([a-z-]+)"', page).group(1)


def register(app, *batches):
    with app.app_context():
        product_id = db.session.scalar(
            sa.select(Product.id).where(Product.approval_number == AMOXICILLIN["approval_number"])
        )
        db.session.add_all(
            Batch(
                product_id=product_id, batch_number=number, manufactured_on=made, expires_on=expires
            )
            for number, made, expires in batches
        )
        db.session.commit()


@pytest.fixture
def staff_and_catalogue(staff, catalogue):
    return catalogue


def test_the_batch_check_on_the_case_page(staff_and_catalogue):
    app = staff_and_catalogue
    register(
        app,
        ("20260315A", date(2026, 3, 15), date(2028, 3, 14)),
        ("20250101A", date(2025, 1, 1), date(2026, 10, 31)),
        ("20261201A", date(2026, 12, 1), date(2028, 11, 30)),
        ("20260316A", date(2026, 3, 16), date(2028, 3, 15)),
    )
    client = signed_in(app, REVIEWER)
    known = submit(app)
    page = client.get(f"/staff/reports/{known}").get_data(as_text=True)
    assert batch_result(client, known) == "known" and "2028-03-14" in page
    expired = submit(app, {"drugs-0-batch_number": "20250101A"})
    page = client.get(f"/staff/reports/{expired}").get_data(as_text=True)
    assert batch_result(client, expired) == "known" and "2026-10-31" in page
    assert "late-text" in page.split('id="batch-check"')[1].split("</section>")[0]
    made_later = submit(app, {"drugs-0-batch_number": "20261201A"})  # started 2026-11-20
    section = (
        client.get(f"/staff/reports/{made_later}")
        .get_data(as_text=True)
        .split('id="batch-check"')[1]
    )
    assert "2026-11-20" in section.split("</section>")[0]
    typo = submit(app, {"drugs-0-batch_number": "20260351A"})
    section = (
        client.get(f"/staff/reports/{typo}").get_data(as_text=True).split('id="batch-check"')[1]
    )
    section = section.split("</section>")[0]
    assert batch_result(client, typo) == "unknown" and 'class="warning"' in section
    assert section.index("20260315A") < section.index("20260316A")  # a swap is one edit away
    none_given = submit(app, {"drugs-0-batch_number": ""})
    assert batch_result(client, none_given) == "unknown"
    not_ours = submit(
        app,
        {
            "drugs-0-approval_number": "",
            "drugs-0-generic_name": "头孢克肟片",
            "drugs-0-batch_number": "C2611001",  # in no register of ours
        },
    )
    assert batch_result(client, not_ours) == "not-ours"
    two = submit(
        app,
        {
            "drugs-1-role": "suspect",
            "drugs-1-generic_name": "复方丹参片",
            "drugs-1-batch_number": "X1",
        },
    )
    assert batch_result(client, two) == "unknown"  # the second suspect is ours, its batch is not


@pytest.mark.parametrize(
    ("event", "listed", "suggested"),
    [
        ("皮疹、瘙痒", ["皮疹", "瘙痒"], "listed"),
        ("皮疹、瘙痒", ["皮疹"], "new"),
        ("皮肤瘙痒", ["瘙痒"], "listed"),
        ("全身皮肤瘙痒", ["瘙痒"], "new"),  # greater extent: unexpected (ICH E2A)
        ("重度皮疹", ["皮疹"], "new"),  # greater severity
        ("出血", ["注射部位出血"], "new"),  # less specific than the label's term
        ("红色皮疹", ["皮疹", "恶心"], "listed"),
        ("恶心呕吐", ["恶心"], "new"),
        ("休克", ["过敏性休克"], "new"),
        ("Rash; itching", ["rash", "Itching"], "listed"),
        ("皮疹", [], "new"),  # 不良反应尚不明确: every reaction is new
    ],
)
def test_the_expectedness_suggested_by_the_label(catalogue, event, listed, suggested):
    with catalogue.app_context():
        db.session.execute(sa.update(Product).values(listed_reactions=listed))
        db.session.commit()
    reference = submit(catalogue, {"event-name": event})
    case = case_of(catalogue, reference)
    assert case.suggested_expectedness == suggested
    assert case.expectedness is None  # staff decide


def test_the_suggestion_leaves_the_deadline_to_the_staff_decision(staff_and_catalogue):
    app = staff_and_catalogue
    reference = submit(app, {"event-name": "瘙痒"})  # not listed: new is suggested
    case = case_of(app, reference)
    assert case.suggested_expectedness == "new" and case.report_category == "general"


def test_no_suggestion_when_no_suspect_drug_is_ours(catalogue):
    reference = submit(catalogue, {"drugs-0-approval_number": "", "drugs-0-generic_name": "头孢"})
    assert case_of(catalogue, reference).suggested_expectedness is None


@pytest.mark.parametrize(
    ("typed", "registered", "distance"),
    [
        ("20260315A", "20260315A", 0),
        ("20260351A", "20260315A", 1),
        ("2026315A", "20260315A", 1),
        ("AB", "XY", 2),
    ],
)
def test_edit_distance(typed, registered, distance):
    assert edit_distance(typed, registered) == distance


def test_reaction_terms():
    assert reaction_terms("皮疹、瘙痒，恶心;呕吐；头晕伴乏力 ") == [
        "皮疹",
        "瘙痒",
        "恶心",
        "呕吐",
        "头晕",
        "乏力",
    ]
    assert reaction_terms(None) == []


# The public form.


def test_the_form_suggests_our_products_and_carries_their_approval_number(catalogue):
    client = catalogue.test_client()
    page = client.get("/report").get_data(as_text=True)
    assert 'list="our-generic-names"' in page and 'list="our-brand-names"' in page
    assert '<option value="阿莫西林胶囊" data-approval="国药准字H61020123"' in page
    assert '<option value="天宁">' in page  # two products carry it: nothing to fill in
    with catalogue.app_context():
        db.session.add(
            Product(generic_name="板蓝根颗粒", approval_number="Z1", manufacturer=COMPANY)
        )
        db.session.commit()
        products.forget_suggestions()  # as the catalogue page does
    assert 'value="板蓝根颗粒"' in client.get("/report").get_data(as_text=True)


def test_without_a_catalogue_the_form_has_no_suggestions(client):
    page = client.get("/report").get_data(as_text=True)
    assert 'id="our-' not in page and 'list="our-' not in page  # the provinces' list stays


# The safety mail.


def test_the_safety_mail_names_an_unknown_batch_prominently(tmp_path, monkeypatch):
    from tests.smtp import SMTPServer, body
    from tests.test_mailer import by_kind, deliver, make_app

    server = SMTPServer()
    server.start()
    try:
        app = make_app(tmp_path, monkeypatch, server.port)
        with app.app_context():
            db.session.add(Product(**AMOXICILLIN, listed_reactions=["皮疹"]))
            db.session.commit()
        register(app, ("20260315A", date(2026, 3, 15), date(2026, 11, 1)))
        submit(app, {"drugs-0-batch_number": "20260316A"})
        deliver(app)
        unknown = by_kind(server, app)["safety_inbox"]
        assert (
            unknown["Subject"].startswith("【批号不明】") or "[Unknown batch]" in unknown["Subject"]
        )
        for part in (body(unknown, "plain"), body(unknown, "html")):
            assert "20260316A" in part and ("BATCH CHECK" in part or "批号核对" in part)
        server.inbox.messages.clear()
        submit(app)  # registered, but expired before the reaction began
        deliver(app)
        expired = by_kind(server, app)["safety_inbox"]
        assert "[Unknown batch]" not in expired["Subject"] and "批号不明" not in expired["Subject"]
        assert "2026-11-01" in body(expired, "plain")
    finally:
        server.stop()


# The products in both languages (issue 22 item 6).


@pytest.fixture
def named_catalogue(staff, catalogue):
    """The catalogue, amoxicillin with its English name and aliases, and batch 20260315A."""
    with catalogue.app_context():
        amoxicillin = db.session.scalar(
            sa.select(Product).where(Product.approval_number == AMOXICILLIN["approval_number"])
        )
        amoxicillin.english_name = "Amoxicillin Capsules"
        amoxicillin.aliases = ["Amoxycillin", "amoxilin jiaonang"]
        db.session.commit()
    register(catalogue, ("20260315A", date(2026, 3, 15), date(2028, 3, 14)))
    return catalogue


def product_of(app, reference: str) -> str | None:
    with app.app_context():
        return db.session.scalar(
            sa.select(Product.generic_name)
            .join(Drug)
            .join(Report)
            .where(Report.reference == reference, Drug.position == 0)
        )


def batch_section(client, reference: str) -> str:
    page = client.get(f"/staff/reports/{reference}").get_data(as_text=True)
    return page.split('id="batch-check"')[1].split("</section>")[0]


@pytest.mark.parametrize(
    "typed",
    [
        "Amoxicillin capsules",  # the review's report: the English name, in other letter cases
        "AMOXICILLIN  CAPSULES",
        "Ａｍｏｘｉｃｉｌｌｉｎ　Ｃａｐｓｕｌｅｓ",  # full-width letters and space
        "amoxycillin",  # an alias
        "Amoxilin Jiaonang",  # an alias: pinyin
    ],
)
def test_an_english_name_or_an_alias_is_our_product(named_catalogue, typed):
    app = named_catalogue
    reference = submit(
        app,
        {"drugs-0-approval_number": "", "drugs-0-brand_name": "", "drugs-0-generic_name": typed},
    )
    assert product_of(app, reference) == "阿莫西林胶囊"
    client = signed_in(app, REVIEWER)
    assert batch_result(client, reference) == "known"
    section = batch_section(client, reference)
    assert "20260315A" in section and "recognised-by-batch" not in section  # known by its name


def test_a_name_of_no_product_with_a_registered_batch_is_the_batch_product(named_catalogue):
    app = named_catalogue
    reference = submit(
        app,
        {
            "drugs-0-approval_number": "",
            "drugs-0-brand_name": "",
            "drugs-0-generic_name": "Amoxil 500",
            "drugs-0-batch_number": "20260315a",
        },
    )
    assert product_of(app, reference) == "阿莫西林胶囊"
    client = signed_in(app, REVIEWER)
    assert batch_result(client, reference) == "known"
    section = batch_section(client, reference)
    assert 'class="recognised-by-batch"' in section and "Amoxil 500" in section
    # Another company's approval number or maker says it is not ours, whatever the batch.
    for other in (
        {"drugs-0-approval_number": "国药准字H13022552"},
        {"drugs-0-approval_number": "", "drugs-0-manufacturer": "华北制药股份有限公司"},
    ):
        fields = {"drugs-0-generic_name": "Amoxil 500", "drugs-0-brand_name": ""} | other
        assert product_of(app, submit(app, fields)) is None


def test_registering_a_batch_links_the_drugs_reported_with_it(named_catalogue):
    app = named_catalogue
    reference = submit(
        app,
        {
            "drugs-0-approval_number": "",
            "drugs-0-brand_name": "",
            "drugs-0-generic_name": "阿莫仙",
            "drugs-0-batch_number": "20261101B",
        },
    )
    assert product_of(app, reference) is None
    admin = signed_in(app, ADMIN)
    upload = "approval_number,generic_name,batch_number,manufactured_on,expires_on\n"
    upload += "国药准字H61020123,阿莫西林胶囊,20261101B,2026-11-01,2028-10-31\n"
    from io import BytesIO

    response = admin.post(
        "/staff/products/batches",
        data={"file": (BytesIO(upload.encode()), "register.csv"), "csrf_token": csrf(admin)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert product_of(app, reference) == "阿莫西林胶囊"
    assert batch_result(admin, reference) == "known"


def test_two_strengths_of_one_name_are_told_apart_by_the_batch(named_catalogue):
    app = named_catalogue
    with app.app_context():
        strong = Product(
            generic_name="阿莫西林胶囊",
            english_name="Amoxicillin Capsules",
            approval_number="国药准字H61020124",
            manufacturer=COMPANY,
        )
        db.session.add(strong)
        db.session.flush()
        db.session.add(Batch(product_id=strong.id, batch_number="20260401C"))
        db.session.commit()
    fields = {"drugs-0-approval_number": "", "drugs-0-generic_name": "Amoxicillin Capsules"}
    for batch, approval in (("20260401C", "国药准字H61020124"), ("20260315A", "国药准字H61020123")):
        reference = submit(app, fields | {"drugs-0-batch_number": batch})
        with app.app_context():
            linked = db.session.scalar(
                sa.select(Product.approval_number)
                .join(Drug)
                .join(Report)
                .where(Report.reference == reference, Drug.position == 0)
            )
        assert linked == approval


def test_the_safety_mail_says_the_batch_recognised_the_product(tmp_path, monkeypatch):
    from tests.smtp import SMTPServer, body
    from tests.test_mailer import by_kind, deliver, make_app

    server = SMTPServer()
    server.start()
    try:
        app = make_app(tmp_path, monkeypatch, server.port)
        with app.app_context():
            db.session.add(Product(**AMOXICILLIN))
            db.session.commit()
        register(app, ("20260315A", date(2026, 3, 15), date(2028, 3, 14)))
        submit(
            app,
            {
                "drugs-0-approval_number": "",
                "drugs-0-brand_name": "",
                "drugs-0-generic_name": "Amoxil 500",
            },
        )
        deliver(app)
        mail = by_kind(server, app)["safety_inbox"]
        for part in (body(mail, "plain"), body(mail, "html")):
            assert "Amoxil 500" in part and "20260315A" in part
            assert "recognised by its batch number" in part or "按批号识别" in part
        assert "[Unknown batch]" not in mail["Subject"] and "批号不明" not in mail["Subject"]
    finally:
        server.stop()


def test_the_form_suggests_names_in_the_page_language(named_catalogue):
    client = named_catalogue.test_client()
    english = client.get("/report?lang=en").get_data(as_text=True)
    assert '<option value="Amoxicillin Capsules" data-approval="国药准字H61020123"' in english
    assert 'value="阿莫西林胶囊"' not in english
    assert 'value="复方丹参片"' in english  # no English name yet: its Chinese one
    assert "Amoxycillin" not in english  # aliases are matched, not offered
    chinese = client.get("/report?lang=zh_CN").get_data(as_text=True)
    assert '<option value="阿莫西林胶囊" data-approval="国药准字H61020123"' in chinese
    assert "Amoxicillin Capsules" not in chinese
    # A filled-in page in English too, as a refused report comes back.
    refused = client.post("/report?lang=en", data={"reporter-kind": ""})
    assert 'value="Amoxicillin Capsules"' in refused.get_data(as_text=True)


def test_an_admin_edits_the_english_name_and_aliases_audited(staff):
    admin = signed_in(staff, ADMIN)
    added = admin.post(
        "/staff/products",
        data=product_form(admin, english_name=" Isatis  Root Granules ", aliases="板兰根颗粒"),
    )
    assert added.status_code == 303
    with staff.app_context():
        product = db.session.scalar(sa.select(Product))
        assert (product.english_name, product.aliases) == ("Isatis Root Granules", ["板兰根颗粒"])
        product_id = product.id
    before = submit(  # received before the alias is added: matched again by the edit
        staff,
        {
            "drugs-0-approval_number": "",
            "drugs-0-brand_name": "",
            "drugs-0-generic_name": "Banlangen　Keli",
            "drugs-0-batch_number": "X1",
        },
    )
    assert product_of(staff, before) is None
    edited = admin.post(
        f"/staff/products/{product_id}",
        data=product_form(
            admin,
            english_name="Banlangen Granules",
            aliases="板兰根颗粒\n\n banlangen  keli \nBANLANGEN KELI\n",
        ),
    )
    assert edited.status_code == 303
    page = admin.get(f"/staff/products/{product_id}").get_data(as_text=True)
    assert 'value="Banlangen Granules"' in page and "板兰根颗粒\nbanlangen keli</textarea>" in page
    assert "Banlangen Granules" in admin.get("/staff/products").get_data(as_text=True)
    actions = [(e.action, e.field, e.new_value) for e in trail(staff) if "product" in e.action]
    assert '"english_name": "Isatis Root Granules"' in actions[0][2]
    assert '"aliases": ["板兰根颗粒"]' in actions[0][2]
    assert actions[1:] == [
        ("product changed", "国药准字Z61021234 english_name", "Banlangen Granules"),
        ("product changed", "国药准字Z61021234 aliases", '["板兰根颗粒", "banlangen keli"]'),
    ]
    reference = submit(
        staff,
        {
            "drugs-0-approval_number": "",
            "drugs-0-brand_name": "",
            "drugs-0-generic_name": "板兰根颗粒",
        },
    )
    assert product_of(staff, reference) == "板蓝根颗粒"  # the edit applies to new reports
    assert product_of(staff, before) == "板蓝根颗粒"


def test_refused_names_keep_every_value(staff):
    admin = signed_in(staff, ADMIN)
    long_alias = "A" * 201
    refused = admin.post(
        "/staff/products",
        data=product_form(
            admin, english_name="Isatis Root Granules", aliases=f"板兰根\n{long_alias}"
        ),
    )
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'id="error-summary"' in page
    assert 'value="Isatis Root Granules"' in page and f"板兰根\n{long_alias}</textarea>" in page
    too_long = admin.post(
        "/staff/products", data=product_form(admin, english_name="B" * 201, aliases="板兰根")
    )
    page = too_long.get_data(as_text=True)
    assert too_long.status_code == 422 and "板兰根</textarea>" in page and "B" * 201 in page
    with staff.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Product)) == 0


# The holder's form (issue 23): a product's dosage form and strengths, and what a report gives.


def dress_amoxicillin(app, dosage_form="胶囊剂", strengths=("0.25g", "0.5g")):
    with app.app_context():
        db.session.execute(
            sa.update(Product)
            .where(Product.approval_number == AMOXICILLIN["approval_number"])
            .values(dosage_form=dosage_form, strengths=list(strengths))
        )
        db.session.commit()
        products.forget_suggestions()


def safety_mail(app, reference: str) -> str:
    from adr.models import OutboxMail

    with app.app_context():
        return db.session.scalar(
            sa.select(OutboxMail.body_text)
            .join(Report)
            .where(Report.reference == reference, OutboxMail.kind == "safety_inbox")
        )


def test_an_admin_gives_a_product_its_dosage_form_and_strengths_audited(staff):
    admin = signed_in(staff, ADMIN)
    added = admin.post(
        "/staff/products",
        data=product_form(admin, dosage_form=" 颗粒剂 ", strengths="每袋装10g\n\n每袋装10g\n 5g "),
    )
    assert added.status_code == 303
    with staff.app_context():
        product = db.session.scalar(sa.select(Product))
        assert (product.dosage_form, product.strengths) == ("颗粒剂", ["每袋装10g", "5g"])
        product_id = product.id
    page = admin.get(f"/staff/products/{product_id}").get_data(as_text=True)
    assert 'value="颗粒剂"' in page and "每袋装10g\n5g</textarea>" in page
    assert "颗粒剂 · 每袋装10g、5g" in admin.get("/staff/products").get_data(as_text=True)
    refused = admin.post(
        f"/staff/products/{product_id}",
        data=product_form(admin, dosage_form="颗粒剂", strengths=f"5g\n{'g' * 61}"),
    )
    kept = f"5g\n{'g' * 61}</textarea>"
    assert refused.status_code == 422 and kept in refused.get_data(as_text=True)
    edited = admin.post(
        f"/staff/products/{product_id}",
        data=product_form(admin, dosage_form="颗粒剂", strengths="每袋装5g"),
    )
    assert edited.status_code == 303
    actions = [(e.action, e.field, e.new_value) for e in trail(staff) if "product" in e.action]
    added = actions[0][2]
    assert '"dosage_form": "颗粒剂"' in added and '"strengths": ["每袋装10g", "5g"]' in added
    assert actions[1:] == [("product changed", "国药准字Z61021234 strengths", '["每袋装5g"]')]


def test_the_form_offers_each_product_its_own_strengths_and_every_strength_without_script(
    catalogue,
):
    dress_amoxicillin(catalogue)
    page = catalogue.test_client().get("/report").get_data(as_text=True)
    strengths = re.search(r'<datalist id="our-strengths">(.*?)</datalist>', page).group(1)
    assert strengths == '<option value="0.25g"><option value="0.5g">'
    option = re.search(r'<option value="阿莫西林胶囊"[^>]*>', page).group(0)
    own = re.search(r'data-strengths="([\w-]+)"', option).group(1)
    assert f'<datalist id="{own}"><option value="0.25g"><option value="0.5g"></datalist>' in page
    assert page.count('list="our-strengths"') == 1  # the one drug row's strength
    assert 'name="drugs-0-dosage_form"' not in page  # the catalogue gives it, not the reporter


def test_a_report_carries_the_holder_form_fields_to_the_case_page_and_the_mail(
    staff_and_catalogue,
):
    app = staff_and_catalogue
    dress_amoxicillin(app)
    register(app, ("20260315A", date(2026, 3, 15), date(2028, 3, 14)))
    reference = submit(
        app,
        {
            "drugs-0-strength": "0.25g",
            "drugs-0-expiry_date": "2028-03-14",
            "event-province": "陕西省",
            "event-city": "榆林市",
            "patient-birth_date": "1996-03-14",
            "patient-age": "30",
            "patient-pregnant": "yes",
        },
    )
    with app.app_context():
        report = db.session.scalar(sa.select(Report).where(Report.reference == reference))
        drug = report.drugs[0]
        assert (drug.strength, drug.expiry_date, drug.dosage_form) == (
            "0.25g",
            date(2028, 3, 14),
            "胶囊剂",  # the catalogue's: the form does not ask it
        )
        assert (report.event_province, report.event_city) == ("陕西省", "榆林市")
        assert report.patient_pregnant == "yes"
    page = signed_in(app, REVIEWER).get(f"/staff/reports/{reference}").get_data(as_text=True)
    shown = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    for fact in ("剂型 胶囊剂", "规格 0.25g", "失效日期/有效期至 2028-03-14",
                 "发生地区(省) 陕西省", "发生地区(市) 榆林市", "是否妊娠 是"):  # fmt: skip
        assert fact in shown, fact
    assert 'data-expiry="differs"' not in page
    mail = safety_mail(app, reference)
    assert "规格：0.25g 生产批号：20260315A 失效日期/有效期至：2028-03-14" in mail
    assert "发生地区：陕西省 榆林市" in mail and "是否妊娠：是" in mail
    assert "患者当时处于妊娠期：请在病例页面补全持有人报告表的妊娠信息。" in mail


def test_a_drug_takes_its_product_s_dosage_form_unless_the_report_gives_one(catalogue):
    with catalogue.app_context():
        ours = db.session.scalars(sa.select(Product).order_by(Product.id))
        for product, form in zip(ours, ("胶囊剂", "片剂"), strict=True):
            product.dosage_form = form
        drug = Drug(role="suspect", approval_number=AMOXICILLIN["approval_number"])
        typed = Drug(role="suspect", generic_name="复方丹参片", dosage_form="薄膜衣片")
        products.link([drug, typed])
        assert (drug.dosage_form, typed.dosage_form) == ("胶囊剂", "薄膜衣片")
        drug.approval_number = "国药准字Z61020432"  # corrected: another product of ours
        products.link([drug])
        assert drug.dosage_form == "片剂"


def test_a_public_post_cannot_set_the_dosage_form_the_catalogue_gives(staff_and_catalogue):
    app = staff_and_catalogue
    dress_amoxicillin(app)
    reference = submit(app, {"drugs-0-dosage_form": "<b>注射剂</b>"})  # not on the public form
    with app.app_context():
        drug = db.session.scalar(sa.select(Drug).join(Report).where(Report.reference == reference))
        product = db.session.get(Product, drug.product_id)
        assert drug.dosage_form == product.dosage_form and drug.dosage_form != "<b>注射剂</b>"


def test_an_expiry_date_not_the_register_s_is_shown_to_staff(staff_and_catalogue):
    app = staff_and_catalogue
    register(app, ("20260315A", date(2026, 3, 15), date(2028, 3, 14)))
    client = signed_in(app, REVIEWER)
    month_only = submit(app, {"drugs-0-expiry_date": "2028-03-31"})  # 有效期至2028.03
    assert 'data-expiry="differs"' not in batch_section(client, month_only)
    assert "有效期不符" not in client.get(f"/staff/reports/{month_only}").get_data(as_text=True)
    assert "不符" not in safety_mail(app, month_only)

    other = submit(app, {"drugs-0-expiry_date": "2027-09-30"})
    section = batch_section(client, other)
    assert 'class="warning" data-result="known" data-expiry="differs"' in section
    assert "报告的包装有效期 2027-09-30 与该批号的登记不符" in section
    assert "有效期不符" in client.get(f"/staff/reports/{other}").get_data(as_text=True)
    mail = safety_mail(app, other)
    assert "批号 20260315A 在批号登记中，但报告的包装有效期 2027-09-30 与登记的 2028-03-14" in mail

    unknown = submit(
        app, {"drugs-0-batch_number": "20260316A", "drugs-0-expiry_date": "2028-03-15"}
    )
    section = batch_section(client, unknown)
    assert "报告的包装有效期：2028-03-15" in section  # beside the registered batches close to it
    assert section.index("2028-03-15") < section.index("20260315A")


# The listed reactions coded to MedDRA PTs, beside their text.


def listed_codes(app) -> dict[str, int]:
    with app.app_context():
        return db.session.scalar(sa.select(Product.listed_pt_codes))


def test_listed_reactions_are_coded_to_pts_automatically_and_by_staff(coded):
    admin = signed_in(coded, ADMIN)
    admin.get("/staff/?lang=en")
    listed = "皮疹\nItching\n胃部<不适>"
    assert admin.post("/staff/products", data=product_form(admin, listed_reactions=listed))
    with coded.app_context():
        product_id = db.session.scalar(sa.select(Product.id))
    path = f"/staff/products/{product_id}"
    assert listed_codes(coded) == {"皮疹": RASH, "Itching": PRURITUS}  # their exact names
    page = admin.get(path).get_data(as_text=True)
    row = page.split('data-term="0"')[1].split("</tr>")[0]
    assert "Rash" in row and str(RASH) in row and "coded automatically, check it" in row
    assert "not coded" in page.split('data-term="2"')[1].split("</tr>")[0]
    assert "胃部&lt;不适&gt;" in page and "胃部<不适>" not in page

    coding = f"{path}/listed-coding"
    refused = admin.post(
        coding, data={"term": "胃部<不适>", "llt_code": "<i>1</i>", "csrf_token": csrf(admin)}
    )
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "is not a MedDRA code" in text
    assert 'value="&lt;i&gt;1&lt;/i&gt;"' in text and "<i>1</i>" not in text
    refused = admin.post(
        coding, data={"term": "胃部<不适>", "llt_code": NOT_CURRENT, "csrf_token": csrf(admin)}
    )
    assert refused.status_code == 422 and "no longer current" in refused.get_data(as_text=True)
    gone = admin.post(coding, data={"term": "头晕", "llt_code": RASH, "csrf_token": csrf(admin)})
    assert gone.status_code == 303  # not listed: nothing stored
    assert (
        admin.post(
            "/staff/products/999999/listed-coding", data={"csrf_token": csrf(admin)}
        ).status_code
        == 404
    )

    feeling_sick = 84000005  # an LLT: its PT (Nausea, 83000004) is kept
    done = admin.post(
        coding, data={"term": "胃部<不适>", "chosen_llt": feeling_sick, "csrf_token": csrf(admin)}
    )
    assert done.status_code == 303
    admin.post(coding, data={"term": "皮疹", "uncode": "1", "csrf_token": csrf(admin)})
    admin.post(coding, data={"term": "Itching", "llt_code": PRURITUS, "csrf_token": csrf(admin)})
    assert listed_codes(coded) == {"胃部<不适>": 83000004, "Itching": PRURITUS}
    row = admin.get(path).get_data(as_text=True).split('data-term="1"')[1].split("</tr>")[0]
    assert "coded automatically" not in row  # confirmed by staff

    # Saved again without Itching: its code goes; 皮疹, uncoded by staff, is not coded again.
    saved = admin.post(path, data=product_form(admin, listed_reactions="皮疹\n胃部<不适>"))
    assert saved.status_code == 303
    assert listed_codes(coded) == {"胃部<不适>": 83000004}
    with coded.app_context():
        audited = db.session.execute(
            sa.select(
                AuditEntry.actor, AuditEntry.field, AuditEntry.old_value, AuditEntry.new_value
            )
            .where(AuditEntry.action == "listed reactions coded")
            .order_by(AuditEntry.id)
        ).all()
    auto, p = meddra.AUTOMATIC, f"#{product_id}"
    assert audited == [
        (auto, f"{p} 皮疹", None, f"{RASH} Rash (27.1)"),
        (auto, f"{p} Itching", None, f"{PRURITUS} Pruritus (27.1)"),
        (ADMIN, f"{p} 胃部<不适>", None, "83000004 Nausea (27.1)"),
        (ADMIN, f"{p} 皮疹", f"{RASH} Rash (27.1)", None),
        (ADMIN, f"{p} Itching", f"{PRURITUS} Pruritus (27.1)", f"{PRURITUS} Pruritus (27.1)"),
        (auto, f"{p} Itching", f"{PRURITUS} Pruritus (27.1)", None),
    ]
    reviewer = signed_in(coded, REVIEWER)
    assert (
        reviewer.post(
            coding, data={"term": "皮疹", "llt_code": RASH, "csrf_token": csrf(reviewer)}
        ).status_code
        == 403
    )
