"""The staff workspace: dashboard, case list, case page, assessment, exports, accounts."""

from flask import Blueprint

bp = Blueprint("review", __name__, url_prefix="/staff")

from adr.review import account, batches, coding, compliance, duplicates, products, views  # noqa: E402, F401
