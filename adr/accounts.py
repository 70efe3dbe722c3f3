"""Staff accounts: creation, passwords, deactivation; every change audited."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from adr import audit
from adr.extensions import db
from adr.models import User, write_transaction

ROLES = ("reviewer", "admin")
MIN_PASSWORD_LENGTH = 12


@cache
def _dummy_hash() -> str:
    """A hash to check against when the e-mail is unknown, so both failures take as long."""
    return generate_password_hash("not a real password, only for timing")


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
    check_password_rules(password)
    if find_user(email):
        raise AccountError(f"{email} already has an account")
    user = User(
        email=email,
        name=name.strip() or email,
        role=role,
        active=True,
        password_hash=generate_password_hash(password),
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


def set_password(email: str, password: str, by: str) -> None:
    check_password_rules(password)
    user = existing_user(email)
    with write_transaction() as session:
        session.execute(
            sa.update(User)
            .where(User.id == user.id)
            .values(password_hash=generate_password_hash(password))
        )
        audit.record(session, by, "password set", field=user.email)


def set_active(email: str, active: bool, by: str) -> None:
    user = existing_user(email)
    with write_transaction() as session:
        session.execute(sa.update(User).where(User.id == user.id).values(active=active))
        audit.record(
            session,
            by,
            "account reactivated" if active else "account deactivated",
            field=user.email,
        )


def authenticate(email: str, password: str) -> User | None:
    """Return the active user these credentials belong to; None for any kind of failure."""
    user = find_user(email)
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user
