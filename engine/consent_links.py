"""Signed revoke links of fans' consents, pure.

A link is ``/v1/listen/consents/{id}/revoke?signature=<hex>``: the signature is an HMAC-SHA256 of the
consent's id with a key derived from the service's JWT key, so only we can make one, and a link names one
consent. It does not expire: a fan may withdraw their consent at any time. It works once, because the
store refuses a consent already revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

__all__ = ["link_key", "revoke_path", "sign", "valid"]


def link_key(secret: bytes) -> bytes:
    """The links' own key, derived so that a link signature is never a token or report-link signature."""
    return hmac.new(secret, b"songtrack consent revoke links v1", hashlib.sha256).digest()


def sign(key: bytes, consent_id: uuid.UUID) -> str:
    return hmac.new(key, str(consent_id).encode(), hashlib.sha256).hexdigest()


def revoke_path(key: bytes, consent_id: uuid.UUID) -> str:
    return f"/v1/listen/consents/{consent_id}/revoke?signature={sign(key, consent_id)}"


def valid(key: bytes, consent_id: uuid.UUID, signature: str) -> bool:
    """Whether ``signature`` is ours for this consent; any text is safe to pass (compared as UTF-8 bytes)."""
    return hmac.compare_digest(sign(key, consent_id).encode(), signature.encode("utf-8", "replace"))
