"""Staff accounts: creation, passwords, second factors, deactivation; every change audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from adr import audit, mailer, totp, vocab
from adr.extensions import db
from adr.models import AuditEntry, User, advisory_lock, write_transaction

ROLES = tuple(vocab.ROLE)  # reviewer, admin
MIN_PASSWORD_LENGTH = 12
MAX_NAME_LENGTH = 100  # the column's size


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


@cache
def _dummy_hash(method: str) -> str:
    """A hash to check against when the e-mail is unknown, so both failures take as long."""
    return generate_password_hash("not a real password, only for timing", method=method)


class AccountError(ValueError):
    """A request about an account that cannot be carried out, with the reason."""


def find_user(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


def create_user(email: str, name: str, role: str, password: str, by: str) -> User:
    """Add an active staff account."""
    email = email.strip().lower()
    if role not in ROLES:
        raise AccountError(f"the role must be one of {', '.join(ROLES)}")
    if "@" not in email or len(email) > 254:
        raise AccountError("give the account's e-mail address")
    if len(name.strip()) > MAX_NAME_LENGTH:
        raise AccountError(f"a name has at most {MAX_NAME_LENGTH} characters")
    check_password_rules(password)
    if find_user(email):
        raise AccountError(f"{email} already has an account")
    user = User(
        email=email,
        name=name.strip() or email,
        role=role,
        active=True,
        password_hash=hash_password(password),
        created_at=datetime.now(UTC),
    )
    with write_transaction() as session:
        session.add(user)
        audit.record(session, by, "account created", field=email, new=role)
    return user


def existing_user(email: str) -> User:
    user = find_user(email)
    if user is None:
        raise AccountError(f"no account for {email}")
    return user


def end_sessions(session: Session, user_id: int) -> None:
    """Raise the user's session epoch: every session they hold ends, on every device."""
    session.execute(
        sa.update(User).where(User.id == user_id).values(session_epoch=User.session_epoch + 1)
    )


def set_password(email: str, password: str, by: str) -> None:
    """Replace the account's password and end its sessions."""
    check_password_rules(password)
    user = existing_user(email)
    with write_transaction() as session:
        session.execute(
            sa.update(User).where(User.id == user.id).values(password_hash=hash_password(password))
        )
        end_sessions(session, user.id)
        audit.record(session, by, "password set", field=user.email)


def set_active(email: str, active: bool, by: str) -> None:
    """Let the account sign in again, or stop it and end its sessions."""
    user = existing_user(email)
    with write_transaction() as session:
        session.execute(sa.update(User).where(User.id == user.id).values(active=active))
        end_sessions(session, user.id)
        audit.record(
            session,
            by,
            "account reactivated" if active else "account deactivated",
            field=user.email,
        )


def log_out(user: User) -> None:
    """End every session of the user, this one and those on other devices."""
    with write_transaction() as session:
        end_sessions(session, user.id)
        audit.record(session, user.email, "logout")


# The advisory lock (with the address's hash) that counts one address's failures one at a time.
FAILURES_LOCK = 0x41445246  # "ADRF"
LOCK_FAILURES = sa.select(
    sa.func.pg_advisory_xact_lock(FAILURES_LOCK, sa.func.hashtext(sa.bindparam("address")))
)


def alert_on_repeated_failures(session: Session, address: str) -> None:
    """Past the threshold of failed logins in the window, alert the account's holder once.

    On PostgreSQL two failures of one address at once are counted one after the other: the
    second sees the first and its alert (SQLite's BEGIN IMMEDIATE serialises writers already).
    """
    advisory_lock(session, LOCK_FAILURES, {"address": address})
    config = current_app.config
    minutes = config["LOGIN_ALERT_WINDOW_MINUTES"]
    recent = (
        sa.select(sa.func.count())
        .select_from(AuditEntry)
        .where(
            AuditEntry.actor == address,
            AuditEntry.at >= datetime.now(UTC) - timedelta(minutes=minutes),
        )
    )
    recorded = [entry.action for entry in audit.pending(session) if entry.actor == address]
    failures = recorded.count("login failed")  # the failure just recorded counts
    failures += session.scalar(recent.where(AuditEntry.action == "login failed")) or 0
    if failures < config["LOGIN_ALERT_THRESHOLD"]:
        return
    if session.scalar(recent.where(AuditEntry.action == "login alert")):
        return  # alerted already in this window
    audit.record(session, address, "login alert", new=failures)
    user = find_user(address)
    if user is not None and user.active:
        session.add(mailer.login_alert(user.email, failures, minutes))


def authenticate(email: str, password: str) -> User | None:
    """Return the active user these credentials belong to; None for any kind of failure."""
    user = find_user(email)
    if user is None:
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        return None
    if not password_matches(user, password) or not user.active:
        return None
    return user


def password_matches(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def record_wrong_password(user: User, purpose: str) -> None:
    """Audit a wrong current password typed to confirm a change to the user's own account."""
    with write_transaction() as session:
        audit.record(session, user.email, "password check failed", field=user.email, new=purpose)


def enable_totp(user: User, secret: str, step: int) -> list[str]:
    """Turn on the user's second factor and mail them; return the recovery codes, shown once."""
    codes = totp.new_recovery_codes()
    with write_transaction() as session:
        session.execute(
            sa.update(User)
            .where(User.id == user.id)
            .values(
                totp_secret=secret,
                totp_last_step=step,
                recovery_code_hashes=[totp.recovery_code_hash(code) for code in codes],
            )
        )
        end_sessions(session, user.id)
        audit.record(session, user.email, "second factor enabled", field=user.email)
        session.add(mailer.second_factor_notice(user.email, added=True, at=datetime.now(UTC)))
    mailer.wake_sender()
    return codes


def remove_totp(email: str, by: str) -> None:
    """Turn off the account's second factor, drop its recovery codes, end its sessions; mail
    the holder."""
    user = existing_user(email)
    if user.totp_secret is None:
        raise AccountError(f"{user.email} has no second factor")
    with write_transaction() as session:
        session.execute(
            sa.update(User)
            .where(User.id == user.id)
            .values(totp_secret=None, totp_last_step=None, recovery_code_hashes=[])
        )
        end_sessions(session, user.id)
        audit.record(session, by, "second factor removed", field=user.email)
        session.add(mailer.second_factor_notice(user.email, added=False, at=datetime.now(UTC)))
    mailer.wake_sender()


def check_second_factor(user: User, code: str) -> bool:
    """Accept a current authenticator code not used before, or an unused recovery code, once."""
    if user.totp_secret is None:
        return False
    step = totp.matching_step(user.totp_secret, code, datetime.now(UTC))
    if step is not None:
        return accept_step(user, step)
    return use_recovery_code(user, code)


def accept_step(user: User, step: int) -> bool:
    """Record `step` as the user's last code; refuse it when that step or a later one was used."""
    with write_transaction() as session:
        accepted = session.scalar(
            sa.update(User)
            .where(User.id == user.id)
            .where(sa.or_(User.totp_last_step.is_(None), User.totp_last_step < step))
            .values(totp_last_step=step)
            .returning(User.id)
        )
    return accepted is not None


def use_recovery_code(user: User, code: str) -> bool:
    """Spend one of the user's recovery codes; False when it is not one of them (or was spent)."""
    wanted = totp.recovery_code_hash(code)
    with write_transaction() as session:
        hashes = session.scalar(
            sa.select(User.recovery_code_hashes).where(User.id == user.id).with_for_update()
        )
        if not hashes or wanted not in hashes:
            return False
        left = [stored for stored in hashes if stored != wanted]
        session.execute(sa.update(User).where(User.id == user.id).values(recovery_code_hashes=left))
        audit.record(session, user.email, "recovery code used", field=user.email, new=len(left))
    return True
