"""Provider tokens encrypted at rest: AES-256-GCM under the service's 32-byte token-encryption key.

A sealed value is ``"v1:" + base64url(nonce || ciphertext || tag)`` with a fresh random 96-bit nonce per
value. The associated data names the value's place (``f"{org_id}:{provider}:{field}"``), so a ciphertext
copied into another row or column does not open. Error tree: ``SealError`` (bad key, wrong AAD, any
tampering, unknown format). Plaintexts never appear in messages or logs.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["SealError", "open_", "seal"]

_PREFIX = "v1:"
_NONCE_BYTES = 12
_KEY_BYTES = 32


class SealError(ValueError):
    """A sealed value that does not open: tampered, sealed for another place or key, or malformed."""


def _cipher(key: bytes) -> AESGCM:
    if len(key) != _KEY_BYTES:
        raise SealError(f"the token encryption key must be {_KEY_BYTES} bytes")
    return AESGCM(key)


def seal(key: bytes, plaintext: str, aad: str) -> str:
    """Encrypt ``plaintext`` for the place named by ``aad``."""
    nonce = os.urandom(_NONCE_BYTES)
    body = _cipher(key).encrypt(nonce, plaintext.encode(), aad.encode())
    return _PREFIX + base64.urlsafe_b64encode(nonce + body).decode("ascii")


def open_(key: bytes, sealed: str, aad: str) -> str:
    """The plaintext of ``sealed``; raises ``SealError`` if it was changed or belongs elsewhere."""
    cipher = _cipher(key)
    if not sealed.startswith(_PREFIX):
        raise SealError("unknown sealed-value format")
    try:
        # validate=True: a changed character must not be silently dropped by the decoder.
        raw = base64.b64decode(sealed[len(_PREFIX):].encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise SealError("sealed value is not valid base64") from None
    if base64.urlsafe_b64encode(raw).decode("ascii") != sealed[len(_PREFIX):]:
        raise SealError("sealed value is not canonical base64")  # e.g. changed padding bits
    if len(raw) < _NONCE_BYTES + 16:
        raise SealError("sealed value is too short")
    try:
        plain = cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad.encode())
    except InvalidTag:
        raise SealError("sealed value failed authentication (tampered, or sealed for another place)") from None
    return plain.decode()
