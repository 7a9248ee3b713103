"""Signed, expiring download links for exported reports, pure.

A link is ``/v1/reports/{id}/download?expires=<unix seconds>&signature=<hex>``: the signature is an
HMAC-SHA256 of ``"{id}.{expires}"`` with a key derived from the service's JWT key, so a link names one
export until one moment and cannot be widened to another or made to last longer. Anyone holding it can
download (it is shared like a presigned URL); it stops working at ``expires`` or when the export is
deleted, whichever comes first.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Literal

__all__ = ["LinkCheck", "check", "download_path", "link_key", "sign"]

LinkCheck = Literal["valid", "expired", "invalid"]


def link_key(secret: bytes) -> bytes:
    """The links' own key, derived so that a link signature is never a token signature."""
    return hmac.new(secret, b"songtrack report download links v1", hashlib.sha256).digest()


def sign(key: bytes, export_id: uuid.UUID, expires: int) -> str:
    return hmac.new(key, f"{export_id}.{expires}".encode(), hashlib.sha256).hexdigest()


def download_path(key: bytes, export_id: uuid.UUID, expires: int) -> str:
    return f"/v1/reports/{export_id}/download?expires={expires}&signature={sign(key, export_id, expires)}"


def check(key: bytes, export_id: uuid.UUID, expires: int, signature: str, now: float) -> LinkCheck:
    """"invalid" unless the signature is ours for this export and moment; then "expired" once ``now`` has
    reached ``expires``."""
    if not hmac.compare_digest(sign(key, export_id, expires), signature):
        return "invalid"
    return "expired" if now >= expires else "valid"
