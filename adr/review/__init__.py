"""The staff workspace: dashboard, case list, case page, assessment, exports, accounts."""

from flask import Blueprint

bp = Blueprint("review", __name__, url_prefix="/staff")

from adr.review import account, batches, compliance, duplicates, products, views  # noqa: E402, F401
from adr.review import e2b  # noqa: E402, F401
