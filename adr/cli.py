"""The `adr` command: Flask's commands (`run`, `db`, …) over the app factory, and ours."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from adr import create_app, mailer


def register(app: Flask) -> None:
    """Add the project's commands to the app's CLI."""
    app.cli.add_command(send_mail)


@click.command("send-mail")
@with_appcontext
@click.option("--loop", is_flag=True, help="Keep running, retrying on the back-off schedule.")
@click.option("--retry-failed", is_flag=True, help="Also retry mails marked failed.")
def send_mail(loop: bool, retry_failed: bool) -> None:
    """Deliver the mail outbox: every undelivered mail once now, or keep running with --loop."""
    if loop:
        run_sender_loop(retry_failed)
        return
    delivery = mailer.deliver_pending_mail(ignore_backoff=True, retry_failed=retry_failed)
    for outcome, mails in (
        ("sent", delivery.sent),
        ("will retry", delivery.retrying),
        ("failed", delivery.failed),
    ):
        for mail in mails:
            error = f": {mail.last_error}" if mail.last_error else ""
            click.echo(f"{outcome}: mail {mail.id} ({mail.kind}, {mail.subject}){error}")
    click.echo(
        f"{len(delivery.sent)} sent, {len(delivery.retrying)} to retry, "
        f"{len(delivery.failed)} failed"
    )
    if delivery.retrying or delivery.failed:
        sys.exit(1)


def run_sender_loop(retry_failed: bool) -> None:
    """Deliver due mail until SIGTERM or Ctrl-C; failed mails too, once, with --retry-failed."""
    stop = threading.Event()

    def stop_on(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stop_on)
    signal.signal(signal.SIGINT, stop_on)
    click.echo("delivering mail; stop with Ctrl-C")
    while not stop.is_set():
        delivery = mailer.deliver_pending_mail(retry_failed=retry_failed)
        retry_failed = False
        for mail in delivery.sent + delivery.retrying + delivery.failed:
            click.echo(f"mail {mail.id} ({mail.kind}): {mail.status} {mail.last_error or ''}")
        stop.wait(current_app.config["MAIL_POLL_SECONDS"])


main = FlaskGroup(create_app=create_app, help="The ADR report intake system.")
