"""The product catalogue and its batch register, kept by admins."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.wrappers import Response
from wtforms import StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from adr import audit, batch_register, batch_tally, meddra, products
from adr.auth.views import role_required
from adr.extensions import db
from adr.intake.forms import clean_text, fields_in_error
from adr.models import Batch, MeddraTerm, Product, write_transaction
from adr.review import bp
from adr.review.coding import AUTO_SUGGESTED, SUGGESTIONS, chosen_llt, meddra_language

BATCHES_SHOWN = 500
PRODUCT_FIELDS = (
    *("generic_name", "english_name", "brand_name", "approval_number", "manufacturer"),
    "dosage_form",
)
LIST_FIELDS = ("aliases", "strengths", "listed_reactions")  # kept as lists, one per line
ALIAS_LENGTH = 200
STRENGTH_LENGTH = 60  # as a reported drug's strength (Drug.strength)
MAX_STRENGTHS = 20


def one_line(value: Any) -> Any:
    value = clean_text(value)
    return " ".join(value.split()) if isinstance(value, str) else value


def spaceless_upper(value: Any) -> Any:
    value = clean_text(value)
    return re.sub(r"\s+", "", value).upper() if isinstance(value, str) else value


class ProductForm(FlaskForm):
    generic_name = StringField(
        _l("Generic name with dosage form"),
        filters=[one_line],
        validators=[InputRequired(_l("Enter the generic name.")), Length(max=200)],
    )
    english_name = StringField(
        _l("English generic name with dosage form"),
        filters=[one_line],
        validators=[Length(max=200)],
    )
    brand_name = StringField(_l("Brand name"), filters=[one_line], validators=[Length(max=200)])
    aliases = TextAreaField(
        _l("Other names it is known by, one per line"),
        filters=[clean_text],
        validators=[Length(max=20_000)],
    )
    approval_number = StringField(
        _l("Approval number (批准文号)"),
        filters=[spaceless_upper],
        validators=[InputRequired(_l("Enter the approval number.")), Length(max=35)],
    )
    manufacturer = StringField(
        _l("Manufacturer"),
        filters=[one_line],
        validators=[InputRequired(_l("Enter the manufacturer.")), Length(max=200)],
    )
    dosage_form = StringField(
        _l("Dosage form (剂型)"), filters=[one_line], validators=[Length(max=60)]
    )
    strengths = TextAreaField(
        _l("Strengths (规格), one per line"),
        filters=[clean_text],
        validators=[Length(max=2_000)],
    )
    listed_reactions = TextAreaField(
        _l("Adverse reactions listed in the label, one per line"),
        filters=[clean_text],
        validators=[Length(max=20_000)],
    )

    def reactions(self) -> list[str]:
        return products.reaction_terms(self.listed_reactions.data)

    def alias_list(self) -> list[str]:
        """Return the aliases typed, one per line, each once as names are compared."""
        unique: dict[str, str] = {}
        for line in (self.aliases.data or "").splitlines():
            if name := " ".join(line.split()):
                unique.setdefault(products.name_key(name), name)
        return list(unique.values())

    def strength_list(self) -> list[str]:
        """Return the strengths typed, one per line, each once."""
        lines = (" ".join(line.split()) for line in (self.strengths.data or "").splitlines())
        return list(dict.fromkeys(line for line in lines if line))

    def lists(self) -> dict[str, list[str]]:
        return {
            "aliases": self.alias_list(),
            "strengths": self.strength_list(),
            "listed_reactions": self.reactions(),
        }


class RegisterUploadForm(FlaskForm):
    file = FileField(_l("Batch register (CSV or XLSX)"))


def catalogue_page(
    form: ProductForm | None = None, upload: RegisterUploadForm | None = None, **context: Any
) -> str:
    counts = (
        sa.select(Batch.product_id, sa.func.count().label("batches"))
        .group_by(Batch.product_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(Product, sa.func.coalesce(counts.c.batches, 0))
        .outerjoin(counts, Product.id == counts.c.product_id)
        .order_by(Product.generic_name, Product.id)
    ).all()
    form = form or ProductForm(formdata=None, manufacturer=current_app.config["COMPANY_NAME"])
    upload = upload or RegisterUploadForm(formdata=None)
    return render_template(
        "review/products.html",
        catalogue=rows,
        form=form,
        errors=fields_in_error(form) + fields_in_error(upload),
        upload=upload,
        columns=batch_register.COLUMNS,
        **context,
    )


@bp.get("/products")
@role_required("admin")
def product_catalogue() -> str:
    return catalogue_page()


@bp.post("/products")
@role_required("admin")
def add_product() -> Response | tuple[str, int]:
    form = ProductForm()
    if not valid(form, None):
        return catalogue_page(form), 422
    product = Product(**form.lists())
    for name in PRODUCT_FIELDS:
        setattr(product, name, form[name].data)
    with write_transaction() as session:
        batch_tally.lock_products(session.connection())  # see `product`
        session.add(product)
        session.flush()
        audit.record(
            session,
            current_user.email,
            "product added",
            field=product.approval_number,
            new={name: getattr(product, name) for name in (*PRODUCT_FIELDS, *LIST_FIELDS)},
        )
        meddra.code_listed_reactions(session, product)
        matched = products.relink(product.id, current_user.email)
    products.forget_suggestions()
    flash(_("The product is added; %(count)s reported drugs matched again.", count=matched))
    return redirect(url_for("review.product", product_id=product.id), 303)


@bp.route("/products/<int:product_id>", methods=["GET", "POST"])
@role_required("admin")
def product(product_id: int) -> Response | str | tuple[str, int]:
    found = db.session.get(Product, product_id) if product_id < 2**31 else None
    product = found or abort(404)
    if request.method == "GET":
        form = ProductForm(formdata=None, obj=product)
        form.aliases.data = "\n".join(product.aliases or [])
        form.strengths.data = "\n".join(product.strengths or [])
        form.listed_reactions.data = "\n".join(product.listed_reactions or [])
        return product_page(product, form)
    form = ProductForm()
    if not valid(form, product):
        return product_page(product, form), 422
    with write_transaction() as session:
        # Every product locked first, in id order, as the window's move does: the save updates
        # this product's row, then counts each case it links again, whose other products a
        # report being stored may hold while it waits for this one.
        batch_tally.lock_products(session.connection())
        changed = False
        typed = {name: form[name].data for name in PRODUCT_FIELDS} | form.lists()
        for name, value in typed.items():
            changed |= audit.record_change(
                session,
                current_user.email,
                "product changed",
                None,
                f"{product.approval_number} {name}"[:60],
                getattr(product, name),
                value,
            )
            setattr(product, name, value)
        changed |= bool(meddra.code_listed_reactions(session, product))
        matched = products.relink(product.id, current_user.email) if changed else 0
    products.forget_suggestions()
    if changed:
        flash(_("Saved; %(count)s reported drugs matched again.", count=matched))
    else:
        flash(_("Nothing changed."))
    return redirect(url_for("review.product", product_id=product.id), 303)


def product_page(
    product: Product, form: ProductForm, refused: tuple[str, str, str] | None = None
) -> str:
    batches = db.session.scalars(
        sa.select(Batch)
        .where(Batch.product_id == product.id)
        .order_by(Batch.manufactured_on.desc(), Batch.batch_number)
        .limit(BATCHES_SHOWN)
    ).all()
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(Batch).where(Batch.product_id == product.id)
    )
    return render_template(
        "review/product.html",
        product=product,
        form=form,
        errors=fields_in_error(form),
        batches=batches,
        batch_count=count,
        listed=listed_rows(product, refused),
        meddra_version=meddra.current_version(),
        meddra_language=meddra_language(),
    )


def valid(form: ProductForm, product: Product | None) -> bool:
    """Validate the form, and refuse an approval number another product has."""
    if not form.validate_on_submit():
        return False
    if any(len(alias) > ALIAS_LENGTH for alias in form.alias_list()):
        form.aliases.errors.append(
            _("Each name may be %(max)s characters at most.", max=ALIAS_LENGTH)
        )
        return False
    strengths = form.strength_list()
    if len(strengths) > MAX_STRENGTHS or any(len(s) > STRENGTH_LENGTH for s in strengths):
        form.strengths.errors.append(
            _(
                "Give at most %(count)s strengths, each of %(max)s characters at most.",
                count=MAX_STRENGTHS,
                max=STRENGTH_LENGTH,
            )
        )
        return False
    key = products.approval_key(form.approval_number.data)
    if not key:
        form.approval_number.errors.append(_("Enter the approval number."))
        return False
    others = db.session.scalars(
        sa.select(Product).where(Product.id != (product.id if product else -1))
    )
    if any(products.approval_key(other.approval_number) == key for other in others):
        form.approval_number.errors.append(_("Another product has this approval number."))
        return False
    return True


@bp.post("/products/batches")
@role_required("admin")
def upload_batches() -> Response | tuple[str, int]:
    upload = RegisterUploadForm()
    file = upload.file.data if upload.validate_on_submit() else None
    if not file or not file.filename:
        upload.file.errors.append(_("Choose the batch register file."))
        return catalogue_page(upload=upload), 422
    try:
        result = batch_register.import_register(file.read(), current_user.email, file.filename)
    except batch_register.RegisterError as error:
        upload.file.errors.append(str(error))
        return catalogue_page(upload=upload), 422
    return catalogue_page(imported=result), 422 if result.refused else 200


# The listed reactions coded to PTs of the newest MedDRA version, beside their text.


@dataclass
class ListedTerm:
    """A listed reaction as the product page shows it, with its coding form."""

    index: int
    term: str
    pt_code: int | None
    pt: MeddraTerm | None  # in the newest version; None: not coded, or not a PT there
    automatic: bool  # coded by its exact name, not by staff: to check
    query: str
    suggestions: list[meddra.Hit] = field(default_factory=list)
    searched: bool = False
    typed: str = ""
    error: str | None = None

    @property
    def anchor(self) -> str:
        return f"listed-{self.index}"


def listed_rows(product: Product, refused: tuple[str, str, str] | None) -> list[ListedTerm]:
    """Return the product's listed reactions with their PTs, suggestions and any refusal."""
    version = meddra.current_version()
    language = meddra_language()
    codes = product.listed_pt_codes or {}
    coders = meddra.listed_coders(db.session(), product.id)
    wanted = request.args.get("for", "")[:40]
    asked = " ".join(request.args.get("meddra_q", "").split())[:100]
    rows, automatic_searches = [], 0
    for index, term in enumerate(product.listed_reactions or []):
        code = codes.get(term)
        field_ = meddra.listed_field(product.id, term)
        row = ListedTerm(
            index,
            term,
            code,
            db.session.get(MeddraTerm, (version, "pt", code)) if code and version else None,
            bool(code) and coders.get(field_) == meddra.AUTOMATIC,
            asked if asked and wanted == f"listed-{index}" else term,
        )
        row.searched = bool(version) and (
            row.query != term or (not code and automatic_searches < AUTO_SUGGESTED)
        )
        if row.searched:
            automatic_searches += row.query == term
            row.suggestions = meddra.search(row.query, language, SUGGESTIONS, version)
        if refused and refused[0] == row.anchor:
            row.typed, row.error = refused[1], refused[2]
        rows.append(row)
    return rows


@bp.post("/products/<int:product_id>/listed-coding")
@role_required("admin")
def code_listed(product_id: int) -> Response | tuple[str, int]:
    """Code a listed reaction to the PT of a current LLT of the newest version, or uncode it."""
    found = db.session.get(Product, product_id) if product_id < 2**31 else None
    product = found or abort(404)
    term = request.form.get("term", "")
    if term not in (product.listed_reactions or []):
        flash(_("This reaction is no longer listed: the list changed since the page was loaded."))
        return redirect(url_for("review.product", product_id=product.id) + "#listed-coding", 303)
    index = product.listed_reactions.index(term)
    hit = None
    if "uncode" not in request.form:
        hit, problem = chosen_llt(request.form)
        if problem or hit is None:
            form = ProductForm(formdata=None, obj=product)
            form.aliases.data = "\n".join(product.aliases or [])
            form.strengths.data = "\n".join(product.strengths or [])
            form.listed_reactions.data = "\n".join(product.listed_reactions or [])
            typed = request.form.get("llt_code", "")[:20]
            return product_page(product, form, (f"listed-{index}", typed, problem or "")), 422
    with write_transaction() as session:
        product = session.get(Product, product_id, with_for_update=True) or abort(404)
        codes = dict(product.listed_pt_codes or {})
        field_ = meddra.listed_field(product.id, term)
        automatic = meddra.listed_coders(session, product.id).get(field_) == meddra.AUTOMATIC
        version = meddra.current_version()
        old, new = codes.get(term), hit.pt_code if hit else None
        changed = old != new or (automatic and new is not None)  # staff confirm an automatic one
        if changed:
            audit.record(
                session,
                current_user.email,
                meddra.LISTED_ACTION,
                None,
                field_,
                meddra.shown_pt(old, version),
                meddra.shown_pt(new, version),
            )
            if new is None:
                codes.pop(term, None)
            else:
                codes[term] = new
            product.listed_pt_codes = codes
    flash(_("Saved.") if changed else _("Nothing changed."))
    return redirect(url_for("review.product", product_id=product.id) + f"#listed-{index}", 303)
