"""The company's products: which of them a reported drug is, for the batch check and alerts.

A drug is matched by its approval number (国药准字…), else by its generic name, else by a
brand name only one product carries; a drug whose manufacturer is given and is plainly
another company's is not ours, whatever its name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from adr.extensions import db
from adr.models import Drug, Product

APPROVAL_PREFIX = "国药准字"
# Words any drug maker's name may hold: they tell no company from another.
CORPORATE_WORDS = re.compile(
    r"股份有限公司|有限责任公司|有限公司|股份|集团|控股|制药|药业|医药|药厂|公司|总厂|分厂|厂"
    r"|pharmaceuticals?|pharma|holdings?|group|company|corporation|co|ltd|limited|inc"
)
NOT_A_NAME_CHARACTER = re.compile(r"[\W_]+")


def approval_key(text: str | None) -> str:
    """Return an approval number as compared: no spaces, upper case, without 国药准字."""
    return re.sub(r"\s+", "", text or "").upper().removeprefix(APPROVAL_PREFIX)


def name_key(text: str | None) -> str:
    """Return a drug name as compared: no spaces, case folded."""
    return re.sub(r"\s+", "", text or "").casefold()


def distinctive(maker: str) -> str:
    """Return what tells one company's name from another's: its name without corporate words."""
    folded = NOT_A_NAME_CHARACTER.sub(" ", maker.casefold())
    return CORPORATE_WORDS.sub(" ", folded)


def same_maker(typed: str | None, known: Iterable[str]) -> bool:
    """Return whether a manufacturer as typed may be one of the `known` names of the company.

    Nothing typed, or only corporate words (制药厂), may be anyone: the name decides then.
    Otherwise the typed name must share a Latin word or two Chinese characters in a row
    with a known name (天宁制药 and 陕西天宁 are the company; 华北制药 is not).
    """
    words = distinctive(typed or "").split()
    if not words:
        return True
    for name in known:
        theirs = distinctive(name)
        for word in words:
            if word.isascii():
                if word in theirs.split():
                    return True
            elif any(word[i : i + 2] in theirs for i in range(len(word) - 1)):
                return True
    return False


@dataclass(frozen=True)
class Catalogue:
    """The products, keyed as drugs are matched to them."""

    products: dict[int, Product]
    by_approval: dict[str, int]
    by_name: dict[str, int]  # generic names, and brand names no two products share

    @classmethod
    def load(cls) -> Catalogue:
        products = {p.id: p for p in db.session.scalars(sa.select(Product))}
        brands: dict[str, list[int]] = {}
        for product in products.values():
            brands.setdefault(name_key(product.brand_name), []).append(product.id)
        by_name = {key: ids[0] for key, ids in brands.items() if key and len(ids) == 1}
        by_name |= {name_key(p.generic_name): p.id for p in products.values()}
        return cls(
            products,
            {approval_key(p.approval_number): p.id for p in products.values()},
            by_name,
        )

    def match(self, drug: Drug) -> int | None:
        """Return the id of the product `drug` is, if it is one of ours."""
        product_id = self.by_approval.get(approval_key(drug.approval_number))
        if product_id is None:
            for name in (drug.generic_name, drug.brand_name):
                product_id = self.by_name.get(name_key(name)) if name else None
                if product_id is not None:
                    break
        if product_id is None:
            return None
        makers = (self.products[product_id].manufacturer, current_app.config["COMPANY_NAME_EN"])
        return product_id if same_maker(drug.manufacturer, makers) else None


def link(drugs: Iterable[Drug]) -> None:
    """Set each drug's product, as the catalogue stands now."""
    catalogue = Catalogue.load()
    for drug in drugs:
        drug.product_id = catalogue.match(drug)
