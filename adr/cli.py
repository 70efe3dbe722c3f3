"""The `adr` command: Flask's commands (`run`, `db`, …) over the app factory."""

from flask.cli import FlaskGroup

from adr import create_app

main = FlaskGroup(create_app=create_app, help="The ADR report intake system.")
