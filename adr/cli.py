"""The `adr` command: Flask's commands (`run`, `db`, …) over the app factory, and ours."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from urllib.parse import urlencode

import click
import segno
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_babel import force_locale

from adr import (
    accounts,
    audit,
    batch_register,
    create_app,
    demo,
    freeze_loaded,
    mailer,
    meddra,
    regulatory,
)
from adr.extensions import db
from adr.inbox import fetch
from adr.intake.forms import BATCH_RE, PACK_FIELDS, normalize_batch
from adr.models import Report, write_transaction
from adr.regulator import acknowledgements, e2b
from adr.regulator import listing as line_listing
from adr.regulator import periodic as periodic_reports
from adr.regulator.workbook import default_path, parse_month, write_workbook
from adr.signals import detection

MAX_PROBLEMS_SHOWN = 20


def register(app: Flask) -> None:
    """Add the project's commands to the app's CLI."""
    for command in (
        send_mail,
        fetch_mail,
        export,
        demo_data,
        create_user,
        set_password,
        deactivate_user,
        reactivate_user,
        reset_totp,
        audit_group,
        backup,
        qr,
        import_batches,
        listing,
        periodic,
        import_meddra,
        e2b_command,
        import_ack,
        signals_group,
    ):
        app.cli.add_command(command)


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def account_or_exit(action: Callable[[], object]) -> None:
    try:
        action()
    except accounts.AccountError as error:
        click.echo(f"adr: {error}", err=True)
        sys.exit(1)


@click.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice(accounts.ROLES), required=True)
@click.option("--name", default="", help="The person's name, as staff pages show it.")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@with_appcontext
def create_user(email: str, role: str, name: str, password_stdin: bool) -> None:
    """Add a staff account; the password is asked for twice."""
    password = read_password(password_stdin)
    account_or_exit(lambda: accounts.create_user(email, name, role, password, "adr create-user"))
    click.echo(f"created {email.strip().lower()} ({role})")


@click.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@with_appcontext
def set_password(email: str, password_stdin: bool) -> None:
    """Set a staff account's password."""
    password = read_password(password_stdin)
    account_or_exit(lambda: accounts.set_password(email, password, "adr set-password"))
    click.echo(f"password set for {email.strip().lower()}")


@click.command("deactivate-user")
@click.argument("email")
@with_appcontext
def deactivate_user(email: str) -> None:
    """Stop an account from signing in (its audit trail stays)."""
    account_or_exit(lambda: accounts.set_active(email, False, "adr deactivate-user"))
    click.echo(f"deactivated {email.strip().lower()}")


@click.command("reactivate-user")
@click.argument("email")
@with_appcontext
def reactivate_user(email: str) -> None:
    """Let a deactivated account sign in again."""
    account_or_exit(lambda: accounts.set_active(email, True, "adr reactivate-user"))
    click.echo(f"reactivated {email.strip().lower()}")


@click.command("reset-totp")
@click.argument("email")
@with_appcontext
def reset_totp(email: str) -> None:
    """Remove an account's second factor and recovery codes (a lost phone); end its sessions."""
    account_or_exit(lambda: accounts.remove_totp(email, "adr reset-totp"))
    click.echo(f"second factor removed for {email.strip().lower()}; its sessions have ended")


@click.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Check every entry's hash and link, and the checkpoints; list what is wrong (exit 1)."""
    from adr.extensions import db

    checkpoints, problems = audit.read_checkpoints()
    result = audit.verify(audit.all_entries(db.session()), checkpoints)
    problems += result.problems
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        click.echo(problem)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        click.echo(f"… and {len(problems) - MAX_PROBLEMS_SHOWN} more problems")
    if problems:
        sys.exit(1)
    if not checkpoints:
        click.echo("no checkpoint yet: run `adr audit checkpoint` so removed entries are found")
    click.echo(
        f"the audit trail holds: {result.entries} entries, every link verified, "
        f"{result.checkpoints} checkpoints matched"
    )


@audit_group.command("checkpoint")
@with_appcontext
def audit_checkpoint() -> None:
    """Append the chain head, signed, to instance/audit-checkpoints.jsonl; ship it elsewhere too."""
    with write_transaction() as session:
        point = audit.write_checkpoint(session)
    click.echo(f"{audit.checkpoint_path()}: {point.count} entries, head {point.head[:16]}…")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup(file: Path) -> None:
    """Write a consistent copy of the live database to FILE (SQLite file, or pg_dump's format)."""
    from adr.backup import BackupError, back_up
    from adr.extensions import db

    try:
        back_up(db.engine, file)
    except BackupError as error:
        click.echo(f"adr: {error}", err=True)
        sys.exit(1)
    click.echo(f"{file}: {file.stat().st_size:,} bytes")


def month_or_exit(month: str) -> str:
    """Return a well-formed `YYYY-MM`, or say what is wrong in one line and exit with status 2."""
    try:
        parse_month(month)
    except ValueError as error:
        click.echo(f"adr: {error}", err=True)
        sys.exit(2)
    return month


@click.command()
@click.argument("month")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Where to write."
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@with_appcontext
def export(month: str, output: Path | None, lang: str) -> None:
    """Write the regulator's workbook for MONTH (YYYY-MM, China time)."""
    month = month_or_exit(month)
    path = output or default_path(Path(current_app.instance_path), month)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.touch(mode=0o600)  # health data: for its owner only, whatever the umask
    summary = write_workbook(month, path, lang)
    click.echo(
        f"{path}: {summary.reports} reports, {summary.drugs} drug rows, "
        f"{summary.not_reported} not reported, {summary.holder_rows} holder form rows"
    )


@click.command()
@click.option("--product", required=True, help="Approval number, generic or brand name.")
@click.option("--from", "first", required=True, help="First day 0 of the period, YYYY-MM-DD.")
@click.option("--to", "last", required=True, help="Last day 0 of the period, YYYY-MM-DD.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Where to write."
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@with_appcontext
def listing(product: str, first: str, last: str, output: Path | None, lang: str) -> None:
    """Write the line listing of a product's cases with day 0 in the period (PSUR style)."""
    try:
        first_day, last_day = line_listing.parse_period(first, last)
    except ValueError as error:
        click.echo(f"adr: {error}", err=True)
        sys.exit(2)
    try:
        choice = line_listing.find_product(product)
    except LookupError as error:
        click.echo(f"adr: {error}", err=True)
        sys.exit(1)
    exports = Path(current_app.instance_path) / "exports"
    path = output or exports / line_listing.file_name(choice, first_day, last_day)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.touch(mode=0o600)  # health data: for its owner only, whatever the umask
    tally = line_listing.write_listing(choice, first_day, last_day, path, lang)
    click.echo(
        f"{path}: {tally.cases} cases of {choice.label()}, "
        f"{tally.excluded} duplicate or invalid left out"
    )


@click.group(invoke_without_command=True)
@click.option("--product", help="Approval number, generic or brand name, or the product's id.")
@click.option("--from", "first", help="First day of the interval, YYYY-MM-DD.")
@click.option("--to", "last", help="Last day of the interval, YYYY-MM-DD.")
@click.option("--dlp", help="Data lock point, YYYY-MM-DD (the last day by default).")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Where to write."
)
@click.option(
    "--lang", "--language", type=click.Choice(["zh", "en"]), default="zh", show_default=True
)
@click.pass_context
@with_appcontext
def periodic(
    context: click.Context,
    product: str | None,
    first: str | None,
    last: str | None,
    dlp: str | None,
    output: Path | None,
    lang: str,
) -> None:
    """Write a product's periodic report tabulations (PSUR/PBRER, ICH E2C(R2)) as a workbook
    (--product, --from and --to), or compute the year's figures (`adr periodic figures`)."""
    if context.invoked_subcommand:
        return
    if product is None or first is None or last is None:
        named = (("--product", product), ("--from", first), ("--to", last))
        raise click.UsageError(f"Missing option '{next(n for n, v in named if v is None)}'.")
    try:
        interval = periodic_reports.parse_interval(first, last, dlp)
        chosen = periodic_reports.find_product(product)
    except (ValueError, LookupError) as error:
        click.echo(f"adr: {error}", err=True)
        sys.exit(2)
    exports = Path(current_app.instance_path) / "exports"
    path = output or exports / periodic_reports.file_name(chosen, interval)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Written beside and renamed when whole: a failure leaves no empty or partial workbook.
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    partial.touch(mode=0o600)  # health data: for its owner only, whatever the umask
    try:
        tabulation = periodic_reports.tabulate(chosen, interval, lang)
        listed = periodic_reports.write_periodic(tabulation, partial, lang)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    click.echo(
        f"{path}: {tabulation.cases.cumulative} cases of {chosen.generic_name} "
        f"{chosen.approval_number} up to {interval.dlp}, {listed} in the interval"
    )


@periodic.command("figures")
@click.option(
    "--year", type=click.IntRange(periodic_reports.FIRST_YEAR, periodic_reports.LAST_YEAR),
    help="The year; by default this year (China dates) and, in January, last year too.",
)  # fmt: skip
@with_appcontext
def periodic_figures(year: int | None) -> None:
    """Count a year's cases per month by product for the periodic page and store them."""
    today = regulatory.china_today()
    last_month = today.replace(day=1) - timedelta(days=1)  # the last complete month's year
    for chosen in [year] if year else sorted({last_month.year, today.year}):
        started = time.perf_counter()
        cases = periodic_reports.compute_figures(chosen, "command")
        took = time.perf_counter() - started
        click.echo(f"periodic figures {chosen}: {cases} cases by product and month in {took:.1f} s")


@click.command("demo-data")
@click.option("--reports", "count", type=click.IntRange(1, 10_000_000), required=True)
@click.option("--month", help="YYYY-MM in China time; this month by default.")
@click.option("--seed", type=int, help="The same seed gives the same reports.")
@click.option("--force", is_flag=True, help="Add them even to a database that holds real reports.")
@with_appcontext
def demo_data(count: int, month: str | None, seed: int | None, force: bool) -> None:
    """Fill the database with realistic synthetic reports."""
    month = month_or_exit(month or f"{datetime.now(regulatory.CHINA):%Y-%m}")
    real = demo.real_report_count()
    if real and not force:
        click.echo(
            f"adr: this database holds {real} real reports; add --force to mix demo data in",
            err=True,
        )
        sys.exit(1)
    started = time.perf_counter()
    result = demo.make_demo_data(count, month, seed)
    click.echo(
        f"{result.reports} demo reports with {result.drugs} drugs for {month} "
        f"in {time.perf_counter() - started:.1f} s"
    )


@click.command("import-batches")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@with_appcontext
def import_batches(file: Path, lang: str) -> None:
    """Upsert the batch register from a CSV or XLSX file; exit 1 if any row was refused."""
    try:
        with force_locale("en" if lang == "en" else "zh_CN"):  # the reasons rows are refused
            content = file.read_bytes()
            result = batch_register.import_register(content, "adr import-batches", file.name)
    except batch_register.RegisterError as error:
        click.echo(f"adr: {file}: {error}", err=True)
        sys.exit(1)
    if result.encoding != "utf-8":
        click.echo(f"{file}: read as GBK (GB18030) text")
    for name in result.added:
        click.echo(f"added {name}")
    for name in result.updated:
        click.echo(f"updated {name}")
    for line, reason in result.refused:
        click.echo(f"adr: {file}:{line}: refused: {reason}", err=True)
    click.echo(
        f"{len(result.added)} added, {len(result.updated)} updated, "
        f"{result.unchanged} unchanged, {len(result.refused)} refused"
    )
    if result.refused:
        sys.exit(1)


@click.command("import-ack")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@with_appcontext
def import_ack(file: Path, lang: str) -> None:
    """Record the national system's acknowledgement (MCCI_IN200101UV01); exit 1 on unknown ids."""
    try:
        with file.open("rb") as handle:
            content = handle.read(acknowledgements.MAX_BYTES + 1)
    except OSError as error:
        click.echo(f"adr: {file}: cannot be read: {error.strerror}", err=True)
        sys.exit(1)
    try:
        with force_locale("en" if lang == "en" else "zh_CN"):  # why a file is refused
            result = acknowledgements.import_acknowledgement(content, "adr import-ack")
    except acknowledgements.AcknowledgementError as error:
        click.echo(f"adr: {file}: {error}", err=True)
        sys.exit(1)
    for outcome in result.outcomes:
        if outcome.known:
            click.echo(acknowledgements.describe(outcome))
        else:
            click.echo(f"adr: {file}: {acknowledgements.describe(outcome)}", err=True)
    if result.unknown:
        sys.exit(1)


@click.command("import-meddra")
@click.argument("folder", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--version", help="The release's version (27.1), if meddra_release.asc is absent.")
@click.option("--language", type=click.Choice(["en", "zh"]), help="Likewise, its language.")
@with_appcontext
def import_meddra(folder: Path, version: str | None, language: str | None) -> None:
    """Import a MedDRA release from its MedAscii folder (a version, or another language of it)."""
    started = time.perf_counter()
    try:
        result = meddra.import_release(folder, "adr import-meddra", version, language)
    except meddra.ReleaseError as error:
        click.echo(f"adr: {error}; nothing imported", err=True)
        sys.exit(1)
    counts = ", ".join(f"{count} {level.upper()}s" for level, count in result.counts.items())
    how = "imported" if result.added else "names added to the imported version"
    click.echo(
        f"MedDRA {result.version} ({result.language}) {how}: {counts}, "
        f"in {time.perf_counter() - started:.1f} s"
    )
    if result.recoded:
        cases = len(result.recoded)
        click.echo(
            f"{sum(result.recoded.values())} coded terms recoded to {result.version} in {cases} "
            f"case{'s' if cases > 1 else ''}; those whose LLT is no longer current wait for a "
            "coder at /staff/coding/upgrade"
        )
    if result.listed_coded:
        click.echo(f"{result.listed_coded} listed reactions of the catalogue coded automatically")


@click.command("e2b")
@click.argument("reference")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--kind", type=click.Choice(e2b.KINDS), default="report", show_default=True)
@click.option("--reason", help="Why (C.1.11.2): required for an amendment or nullification.")
@with_appcontext
def e2b_command(reference: str, output: Path, kind: str, reason: str | None) -> None:
    """Write the E2B(R3) file of a report's case and keep it; exit 1 listing what is missing."""
    report = find_case_report(reference)
    if report is None:
        click.echo(f"adr: no report {reference}", err=True)
        sys.exit(1)
    try:
        with write_transaction() as session:
            submission = e2b.submit(session, report.case, "adr e2b", kind, reason)
            output.touch(mode=0o600)  # health data: for its owner only, whatever the umask
            output.write_bytes(submission.xml.encode("utf-8"))
    except e2b.NotReady as not_ready:
        click.echo(f"adr: no file for {report.reference}; fix these first:", err=True)
        with force_locale(str(current_app.config["BABEL_DEFAULT_LOCALE"])):
            for problem in not_ready.problems:
                click.echo(f"- {problem.text} ({e2b.where_text(problem.where)})", err=True)
        sys.exit(1)
    except e2b.E2BError as error:  # a bug in the builder: which rules, never the values
        click.echo(
            f"adr: the file failed the rules {', '.join(error.rules)}; nothing kept", err=True
        )
        sys.exit(1)
    click.echo(
        f"{output}: {submission.kind} version {submission.version}, message {submission.message_id}"
    )
    with force_locale(str(current_app.config["BABEL_DEFAULT_LOCALE"])):
        for note in e2b.attachment_notes(report.case):  # an article left out, or none attached
            click.echo(f"adr: {note}", err=True)


def find_case_report(reference: str) -> Report | None:
    """Return the report of a reference typed as staff search takes it (any case, spaces)."""
    normalized = regulatory.normalize_reference("".join(reference.split()))
    return (
        normalized and db.session.scalar(sa.select(Report).where(Report.reference == normalized))
    ) or None


@click.group("signals")
def signals_group() -> None:
    """Signal detection."""


@signals_group.command("run")
@click.option("--period", help="YYYY-QN or YYYY-MM (China dates); the last complete month.")
@with_appcontext
def signals_run(period: str | None) -> None:
    """Detect the period's signals; print how many were raised (opened or joined)."""
    try:
        chosen = detection.parse_period(period) if period else detection.last_complete_month()
        if chosen.end >= regulatory.china_today():
            raise ValueError(
                f"the period {chosen.name} has not ended; detection runs a complete period "
                f"(the last complete month is {detection.last_complete_month().name})"
            )
    except ValueError as error:
        click.echo(f"adr: {error}", err=True)
        sys.exit(2)
    started = time.perf_counter()
    result = detection.run(chosen, "command")
    click.echo(f"signals raised: {result.raised}")
    click.echo(
        f"{chosen.name}: {result.opened} opened, {result.joined} joined; {result.cases} cases, "
        f"{result.pairs} product × PT figures stored, in {time.perf_counter() - started:.1f} s"
    )


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
        ("sent or tried, outcome not recorded", delivery.unrecorded),
    ):
        for mail in mails:
            error = f": {mail.last_error}" if mail.last_error else ""
            click.echo(f"{outcome}: mail {mail.id} ({mail.kind}, {mail.subject}){error}")
    click.echo(
        f"{len(delivery.sent)} sent, {len(delivery.retrying)} to retry, "
        f"{len(delivery.failed)} failed"
    )
    if delivery.retrying or delivery.failed or delivery.unrecorded:
        sys.exit(1)


def run_sender_loop(retry_failed: bool) -> None:
    """Deliver due mail until SIGTERM or Ctrl-C, as a web process's sender does (the sender of a
    deployment with MAIL_BACKGROUND off): one SMTP connection while mail keeps coming, a pass
    every MAIL_PASS_SECONDS then, every MAIL_POLL_SECONDS when none came; a pass that fails (the
    database restarting) is tried again at the next. Failed mails too, once, with --retry-failed."""
    stop = threading.Event()

    def stop_on(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stop_on)
    signal.signal(signal.SIGINT, stop_on)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    smtp = mailer.SMTPSession()
    freeze_loaded()  # as gunicorn.conf.py's workers do
    click.echo("delivering mail; stop with Ctrl-C")
    while not stop.is_set():
        started = time.monotonic()
        delivery = mailer.delivery_pass(app, smtp, retry_failed)
        if delivery is None:
            stop.wait(app.config["MAIL_POLL_SECONDS"])
            continue
        retry_failed = False
        tried = delivery.sent + delivery.retrying + delivery.failed
        for mail in tried:
            click.echo(f"mail {mail.id} ({mail.kind}): {mail.status} {mail.last_error or ''}")
        if not tried:
            smtp.close()
        wait = app.config["MAIL_PASS_SECONDS" if tried else "MAIL_POLL_SECONDS"]
        stop.wait(max(0.0, started + wait - time.monotonic()))
    smtp.close()
    click.echo("stopped")


@click.command("fetch-mail")
@with_appcontext
@click.option("--loop", is_flag=True, help="Keep running, looking every ADR_IMAP_POLL_SECONDS.")
def fetch_mail(loop: bool) -> None:
    """Store the safety inbox's new messages (IMAP): once now, or keep running with --loop."""
    try:
        settings = fetch.Settings.of(current_app.config)
    except fetch.SettingsError as refused:
        click.echo(f"fetch-mail: {refused}", err=True)
        sys.exit(1)
    if loop:
        run_fetch_loop(settings)
        return
    fetched = fetch.Fetched()
    failure = fetch_pass(settings, fetched)
    echo_fetched(fetched, quiet=False)
    if failure:
        click.echo(f"fetch-mail: {failure}", err=True)
    if failure or fetched.failed:
        sys.exit(1)


def fetch_pass(
    settings: fetch.Settings, fetched: fetch.Fetched, stop: threading.Event | None = None
) -> str | None:
    """Read the inbox once; return what went wrong, if anything (the server or the database)."""
    try:
        fetch.fetch_mail(settings, fetched, stop)
    except fetch.FetchError as error:
        return str(error)
    except sa.exc.DBAPIError as error:
        db.session.rollback()
        return f"the database: {str(error).splitlines()[0]}"
    return None


def echo_fetched(fetched: fetch.Fetched, quiet: bool) -> None:
    """Say what a pass stored: each message by its id (never a sender or a subject)."""
    notes = {
        **dict.fromkeys(fetched.proposed, " (a reply about a case: proposed for triage)"),
        **dict.fromkeys(fetched.reconciled, " (the app's own mail: reconciled)"),
        **dict.fromkeys(fetched.too_large, " (too large: its header only; it stays on the server)"),
    }
    for message_id in fetched.stored:
        click.echo(f"stored: message {message_id}{notes.get(message_id, '')}")
    for failed in fetched.failed:
        click.echo(f"not stored, left in the mailbox to try again: {failed}", err=True)
    if not fetched.keyword_kept:
        click.echo(
            f"warning: the server keeps no {fetch.KEYWORD} keyword in this folder; "
            "each pass reads every message's header again",
            err=True,
        )
    if fetched.stored or fetched.flagged_only or not quiet:
        click.echo(
            f"{len(fetched.stored)} stored ({len(fetched.too_large)} too large to download, "
            f"{len(fetched.reconciled)} reconciled), {fetched.flagged_only} stored before"
        )


def run_fetch_loop(settings: fetch.Settings) -> None:
    """Read the inbox every poll until SIGTERM or Ctrl-C; after a failure wait twice as long
    each time, up to IMAP_RETRY_MAX_SECONDS."""
    stop = threading.Event()

    def stop_on(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stop_on)
    signal.signal(signal.SIGINT, stop_on)
    config = current_app.config
    click.echo("fetching mail; stop with Ctrl-C")
    failures = 0
    while not stop.is_set():
        fetched = fetch.Fetched()
        error = fetch_pass(settings, fetched, stop)
        echo_fetched(fetched, quiet=True)
        wait = float(config["IMAP_POLL_SECONDS"])
        if error:
            failures += 1
            wait = min(wait * 2 ** min(failures - 1, 30), float(config["IMAP_RETRY_MAX_SECONDS"]))
            click.echo(f"fetch-mail: {error}; trying again in {wait:g} s", err=True)
        else:
            failures = 0
        stop.wait(wait)
    click.echo("stopped")


@click.command()
@click.option("--product", required=True, help="The generic name with its dosage form.")
@click.option("--batch", required=True, help="The batch number (批号), as printed.")
@click.option("--brand", help="The brand name.")
@click.option("--approval", help="The approval number (批准文号).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="FILE.png or FILE.svg.",
)
@with_appcontext
def qr(product: str, batch: str, brand: str | None, approval: str | None, output: Path) -> None:
    """Write a QR code for a pack: scanned, it opens the form with this drug filled in."""
    kind = output.suffix.lower().lstrip(".")
    if kind not in ("png", "svg"):
        raise click.BadParameter("the file must end in .png or .svg", param_hint="'-o'")
    if not BATCH_RE.fullmatch(normalize_batch(batch) or ""):
        raise click.BadParameter("the form would refuse this batch number", param_hint="'--batch'")
    given = {"product": product, "brand": brand, "approval": approval, "batch": batch}
    query = urlencode(
        {parameter: given[parameter] for parameter in PACK_FIELDS if given[parameter]}
    )
    link = f"{current_app.config['BASE_URL'].rstrip('/')}/report?{query}"
    segno.make(link, error="m").save(str(output), kind=kind, scale=10, border=4)
    click.echo(link)
    click.echo(f"{output}: the QR code of that link")


main = FlaskGroup(create_app=create_app, help="The ADR report intake system.")
