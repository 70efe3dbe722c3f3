"""Staff sign-in: login, logout, roles."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from adr.auth import views  # noqa: E402, F401
