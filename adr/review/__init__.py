"""The staff workspace: dashboard, case list, case page, assessment, exports, accounts."""

from flask import Blueprint

bp = Blueprint("review", __name__, url_prefix="/staff")

from adr.review import (  # noqa: E402, F401
    account,
    acknowledgements,
    batches,
    coding,
    compliance,
    documents,
    duplicates,
    e2b,
    group_events,
    holder,
    holder_pdf,
    inbox,
    integrity,
    meddra_upgrade,
    periodic,
    products,
    queue,
    signals,
    views,
)
