"""Time-based one-time passwords (RFC 6238) and recovery codes: pure rules, no Flask."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

import pyotp
import segno

RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
ACCEPTED_STEPS = (-1, 0, 1)  # a code of the step before or after counts too (clock drift)


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str, issuer: str) -> str:
    """Return the otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def qr_code_data_uri(uri: str) -> str:
    """Return the QR code of `uri` as an SVG data: URI, for an <img> the CSP allows."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def matching_step(secret: str, code: str, at: datetime) -> int | None:
    """Return the time step whose code `code` is, near `at`; None when it is none of them."""
    code = re.sub(r"\s", "", code)
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(at)
    for step in (now + offset for offset in ACCEPTED_STEPS):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Return fresh one-time recovery codes, such as `k7wq-3mzp-x4ht` (about 59 bits each)."""
    return [
        "-".join("".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(4)) for _ in range(3))
        for _ in range(RECOVERY_CODE_COUNT)
    ]


def recovery_code_hash(code: str) -> str:
    """Return the stored form of a recovery code, whatever its case, spaces and dashes."""
    normalized = re.sub(r"[\s-]", "", code).lower()
    return hashlib.sha256(normalized.encode()).hexdigest()
