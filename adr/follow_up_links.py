"""Private follow-up links: the acknowledgement's link opens a form tied to the reporter's case.

The token is stored nowhere. It is the HMAC of the acknowledgement's Message-ID under the
secret key: the outbox keeps the mail with `STAND_IN` where the token goes, the sender puts
the token in as it sends, and the database keeps only the token's SHA-256 and its expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from adr.extensions import db
from adr.models import FollowUpLink

STAND_IN = "{follow_up_token}"
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}")  # an HMAC-SHA-256 in URL-safe base64
SEND_GRACE = timedelta(days=1)  # a form opened before the link expired may be sent this late


def token_for(message_id: str) -> str:
    """Return the token of the link that the mail with this Message-ID carries."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(secret, f"adr follow-up link {message_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_link(message_id: str) -> FollowUpLink:
    """Return the link that the acknowledgement with this Message-ID carries, expiring in time."""
    days = timedelta(days=current_app.config["FOLLOW_UP_LINK_DAYS"])
    return FollowUpLink(
        token_hash=token_hash(token_for(message_id)), expires_at=datetime.now(UTC) + days
    )


def with_token(body: str, message_id: str) -> str:
    """Return a mail body with the token of its link in place."""
    return body.replace(STAND_IN, token_for(message_id)) if STAND_IN in body else body


def find(token: str) -> FollowUpLink | None:
    """Return the link whose token this is, expired or not; None for any other text."""
    if not TOKEN_RE.fullmatch(token):
        return None
    return db.session.scalar(
        sa.select(FollowUpLink).where(FollowUpLink.token_hash == token_hash(token))
    )


def is_expired(link: FollowUpLink, grace: timedelta = timedelta(0)) -> bool:
    return link.expires_at + grace <= datetime.now(UTC)
