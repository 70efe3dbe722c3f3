"""Staff sessions: stamped at sign-in, checked on every request, ended by the epoch or by time.

The session is a signed cookie. It holds the user's session epoch as it was at sign-in, so
raising the epoch in the database (logout, a new password, deactivation, a second factor
turned on or off) ends every session of the user at once; and it holds when the user signed
in and was last seen, for the absolute lifetime and the idle timeout.
"""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, session
from flask_login import login_user

from adr.extensions import db
from adr.models import User

EPOCH, SIGNED_IN_AT, SEEN_AT = "staff_epoch", "staff_signed_in_at", "staff_seen_at"
SIGNED_IN_KEYS = ("_user_id", "_fresh", "_id", EPOCH, SIGNED_IN_AT, SEEN_AT)
ENDED = "staff_session_ended"  # tells the login page why the user is there
PENDING = "staff_pending_login"  # the password was right; the second factor is awaited
PENDING_SECONDS = 300


def begin(user: User) -> None:
    """Sign `user` in on a new session stamped with their epoch and the time."""
    session.clear()  # a new session: nothing from before the login survives
    login_user(user)  # remember=False: no remember-me cookie, ever
    now = int(time.time())
    session.update({EPOCH: user.session_epoch, SIGNED_IN_AT: now, SEEN_AT: now})


def keep_after_own_change(user: User) -> None:
    """Keep this session alive after the user's own change raised their epoch."""
    session[EPOCH] = user.session_epoch


def timed_out(signed_in_at: float, seen_at: float, now: float) -> bool:
    """Return whether a session was idle too long, or began too long ago."""
    idle = current_app.config["STAFF_IDLE_TIMEOUT_MINUTES"] * 60
    lifetime = current_app.config["STAFF_SESSION_HOURS"] * 3600
    return now - seen_at > idle or now - signed_in_at > lifetime


def holds_for(user: User | None) -> bool:
    """Return whether this request's session still belongs to `user`; note the request if so."""
    now = time.time()
    valid = (
        user is not None
        and user.active
        and session.get(EPOCH) == user.session_epoch
        and not timed_out(session.get(SIGNED_IN_AT, 0), session.get(SEEN_AT, 0), now)
    )
    if valid:
        session[SEEN_AT] = int(now)
    return valid


def end(ended_by_the_server: bool = False) -> None:
    """Forget who is signed in; the login page says why when the server ended the session."""
    for key in SIGNED_IN_KEYS:
        session.pop(key, None)
    if ended_by_the_server:
        session[ENDED] = True


def await_second_factor(user: User, next_path: str) -> None:
    """Remember, for a few minutes, whose password was right and where they were going."""
    session.clear()
    session[PENDING] = {
        "user": user.id,
        "email": user.email,
        "epoch": user.session_epoch,
        "at": int(time.time()),
        "next": next_path,
    }


def pending() -> dict[str, Any]:
    return session.get(PENDING) or {}


def pending_user() -> User | None:
    """Return the user whose password was right a moment ago, while they may still give a code."""
    login = pending()
    if not login or time.time() - login["at"] > PENDING_SECONDS:
        return None
    user = db.session.get(User, login["user"])
    if user is None or not user.active or user.totp_secret is None:
        return None
    return user if user.session_epoch == login["epoch"] else None
