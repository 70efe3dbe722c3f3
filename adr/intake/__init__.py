"""The public pages: landing page, report form and confirmation."""

from flask import Blueprint

bp = Blueprint("intake", __name__)

from adr.intake import views  # noqa: E402, F401
