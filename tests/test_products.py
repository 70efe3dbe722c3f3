"""The company's products: which reported drugs are ours."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from adr.extensions import db
from adr.models import Drug, Product, Report
from adr.products import same_maker
from tests.conftest import COMPANY
from tests.test_review import submit

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
