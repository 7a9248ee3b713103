"""Signing webhook requests in both styles we send on every attempt, and verifying them (for our tests
and for consumers who copy the code in ``docs/webhooks.md``). Pure: no clock, no I/O.

Standard Webhooks (https://www.standardwebhooks.com, spec v1.0.0):
    webhook-id: <event id>    webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>  (one per active secret,
    space-separated)
The seed's style:
    X-Webhook-Id: <event id>    X-Webhook-Timestamp: <unix seconds>
    X-Webhook-Signature: sha256=<hex HMAC-SHA256(key, "{timestamp}.{body}")>  (one per active secret,
    space-separated; a single value outside a secret rotation)
In both, ``key`` is the base64-decoded part of the ``whsec_…`` secret after the prefix, and ``body`` the
exact request bytes. Error tree: ``VerificationError`` (bad or missing header, stale timestamp, no
matching signature).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _random
from collections.abc import Mapping, Sequence

__all__ = [
    "SECRET_PREFIX",
    "TOLERANCE",
    "VerificationError",
    "chosen_secret",
    "generate_secret",
    "request_headers",
    "secret_key",
    "seed_signature",
    "standard_signature",
    "verify_seed",
    "verify_standard",
]

SECRET_PREFIX = "whsec_"
TOLERANCE = 300  # seconds either way, as the Standard Webhooks libraries check
_MIN_KEY, _MAX_KEY = 24, 64
# A secret the caller chooses (the API reference's ``"secret": "webhook_secret"``) may be shorter than the
# ones we generate: 12 bytes and 8 different characters keep out "secret" and "aaaaaaaaaaaa" while taking
# the reference's own example. Its HMAC key is its UTF-8 bytes, as the seed's style has always used it.
_MIN_CHOSEN, _MIN_DISTINCT = 12, 8


class VerificationError(ValueError):
    """A request whose signature does not verify: the message says which check failed."""


def generate_secret(nbytes: int = 32) -> str:
    """A fresh endpoint secret: ``whsec_`` + base64 of ``nbytes`` (24 to 64) random bytes."""
    if not _MIN_KEY <= nbytes <= _MAX_KEY:
        raise ValueError(f"a secret has {_MIN_KEY} to {_MAX_KEY} random bytes")
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(nbytes)).decode("ascii")


def chosen_secret(secret: str) -> str:
    """A caller's secret as a ``whsec_`` secret; raises ``ValueError`` saying why it is too weak.

    A ``whsec_`` secret is taken as it is (its key 12 to 64 bytes); any other text becomes ``whsec_`` + base64 of
    its UTF-8 bytes, so both signature styles use those bytes as the HMAC key."""
    if secret.startswith(SECRET_PREFIX):
        secret_key(secret)
        return secret
    raw = secret.encode()
    if not _MIN_CHOSEN <= len(raw) <= _MAX_KEY:
        raise ValueError(f"a chosen secret has {_MIN_CHOSEN} to {_MAX_KEY} bytes (leave it out and we make one)")
    if len(set(secret)) < _MIN_DISTINCT:
        raise ValueError(f"a chosen secret has at least {_MIN_DISTINCT} different characters")
    return SECRET_PREFIX + base64.b64encode(raw).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret; raises ``ValueError`` for anything else."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except binascii.Error:
        raise ValueError("a webhook secret is whsec_ and base64") from None
    if not _MIN_CHOSEN <= len(key) <= _MAX_KEY:
        raise ValueError(f"a webhook secret holds {_MIN_CHOSEN} to {_MAX_KEY} bytes")
    return key


def _mac(secret: str, content: bytes) -> bytes:
    return hmac.new(secret_key(secret), content, hashlib.sha256).digest()


def standard_signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64>`` over ``"{id}.{timestamp}.{body}"``."""
    mac = _mac(secret, f"{event_id}.{timestamp}.".encode() + body)
    return "v1," + base64.b64encode(mac).decode("ascii")


def seed_signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>`` over ``"{timestamp}.{body}"``."""
    return "sha256=" + _mac(secret, f"{timestamp}.".encode() + body).hex()


def request_headers(event_id: str, timestamp: int, body: bytes, secrets: Sequence[str], *,
                    user_agent: str) -> dict[str, str]:
    """Every header of one attempt, signed with each of ``secrets`` (the newest first)."""
    if not secrets:
        raise ValueError("an attempt needs at least one secret")
    return {
        "content-type": "application/json",
        "user-agent": user_agent,
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(standard_signature(s, event_id, timestamp, body) for s in secrets),
        "x-webhook-id": event_id,
        "x-webhook-timestamp": str(timestamp),
        "x-webhook-signature": " ".join(seed_signature(s, timestamp, body) for s in secrets),
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = {key.lower(): value for key, value in headers.items()}
    if name not in lowered:
        raise VerificationError(f"missing header {name}")
    return lowered[name]


def _timestamp(raw: str, now: float, tolerance: int) -> int:
    try:
        stamp = int(raw)
    except ValueError:
        raise VerificationError("the timestamp is not an integer") from None
    if abs(now - stamp) > tolerance:
        raise VerificationError("the timestamp is outside the tolerance")
    return stamp


def verify_standard(secret: str, headers: Mapping[str, str], body: bytes, *, now: float,
                    tolerance: int = TOLERANCE) -> None:
    """Check the Standard Webhooks headers against ``secret``; raises ``VerificationError``."""
    event_id = _header(headers, "webhook-id")
    stamp = _timestamp(_header(headers, "webhook-timestamp"), now, tolerance)
    expected = standard_signature(secret, event_id, stamp, body).encode()
    if not any(hmac.compare_digest(expected, given.encode())
               for given in _header(headers, "webhook-signature").split(" ")):
        raise VerificationError("no signature matches")


def verify_seed(secret: str, headers: Mapping[str, str], body: bytes, *, now: float,
                tolerance: int = TOLERANCE) -> None:
    """Check the seed's ``X-Webhook-*`` headers against ``secret``; raises ``VerificationError``."""
    stamp = _timestamp(_header(headers, "x-webhook-timestamp"), now, tolerance)
    expected = seed_signature(secret, stamp, body).encode()
    if not any(hmac.compare_digest(expected, given.encode())
               for given in _header(headers, "x-webhook-signature").split(" ")):
        raise VerificationError("no signature matches")
