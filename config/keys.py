"""Secrets generated into the data directory on first run and reused, unchanged, ever after.

We never regenerate a key that exists: a new JWT key would log everyone out, and a new encryption
key would make every stored provider token unreadable. A damaged key file is for a human to fix.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

import msgspec

__all__ = ["KeyFileError", "Keys", "fingerprints", "load_or_create_keys"]

_KEY_BYTES = 32
_JWT_SIGNING_FILE = "jwt-signing.key"
_TOKEN_ENCRYPTION_FILE = "token-encryption.key"
# What a fingerprint signs: fixed, so the same key always gives the same fingerprint, and versioned, so a
# different scheme one day cannot be mistaken for a different key.
_FINGERPRINT_LABEL = b"songtrack key fingerprint v1"
_log = logging.getLogger(__name__)


class Keys(msgspec.Struct, frozen=True):
    """The service's secrets, 32 random bytes each."""

    jwt_signing_key: bytes
    token_encryption_key: bytes

    def __repr__(self) -> str:
        # Settings and friends get logged; keys must not ride along by accident.
        return "Keys(jwt_signing_key=<hidden>, token_encryption_key=<hidden>)"


class KeyFileError(Exception):
    """A key file (or the keys directory) cannot be read, created or trusted; ``path`` names it."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path


def load_or_create_keys(data_dir: Path) -> Keys:
    """Read the keys under ``data_dir/keys/``, creating any that do not exist yet.

    Files hold the urlsafe base64 of the key and a newline, mode 0600, in a 0700 directory.
    Processes racing on first start all end up with the same keys: a key file appears whole and
    only once (written aside, then hard-linked), and the race's losers read the winner's file.

    Error handling: raises KeyFileError naming the file if one does not decode to exactly 32 bytes
    or cannot be read or created. A file other users can read is tightened to 0600, with a warning.
    """
    key_dir = data_dir / "keys"
    _make_private_dir(key_dir)
    return Keys(
        jwt_signing_key=_load_or_create(key_dir / _JWT_SIGNING_FILE),
        token_encryption_key=_load_or_create(key_dir / _TOKEN_ENCRYPTION_FILE),
    )


def fingerprints(keys: Keys) -> dict[str, str]:
    """Each key's file name (in ``keys/``) → its fingerprint, the hex HMAC-SHA256 of a fixed label under it.

    Processes that share a database compare these to know they hold the same keys; a fingerprint tells two
    keys apart but, HMAC being a one-way function of the key, says nothing of the key itself.
    """
    return {
        _JWT_SIGNING_FILE: hmac.new(keys.jwt_signing_key, _FINGERPRINT_LABEL, hashlib.sha256).hexdigest(),
        _TOKEN_ENCRYPTION_FILE: hmac.new(keys.token_encryption_key, _FINGERPRINT_LABEL, hashlib.sha256).hexdigest(),
    }


def _make_private_dir(key_dir: Path) -> None:
    try:
        key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        _tighten(key_dir, 0o700)
    except OSError as exc:
        raise KeyFileError(key_dir, f"cannot prepare the keys directory: {exc.strerror or exc}") from exc


def _load_or_create(path: Path) -> bytes:
    try:
        return _read(path)
    except FileNotFoundError:
        return _create(path)


def _read(path: Path) -> bytes:
    """The key in ``path``; FileNotFoundError if there is none yet, KeyFileError if it is bad."""
    try:
        with path.open("rb") as file:
            _tighten(path, 0o600, fd=file.fileno())  # the file we read, even if renamed meanwhile
            data = file.read()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise KeyFileError(path, f"cannot read or secure the key: {exc.strerror or exc}") from exc
    return _decode(path, data)


def _tighten(path: Path, private: int, *, fd: int | None = None) -> None:
    # We fix loose permissions rather than refuse to start. They come from a restore or a copy made
    # under a permissive umask; the key was exposed either way, and refusing would not undo that,
    # only keep the service down until someone runs chmod. The warning tells them to rotate it.
    target = path if fd is None else fd
    st_mode = os.stat(target).st_mode
    if st_mode & 0o077:
        os.chmod(target, private)
        _log.warning(
            "%s was accessible to other users (mode %03o); tightened it to %03o. "
            "If someone else may have read it, rotate the keys.",
            path, st_mode & 0o777, private,
        )


def _decode(path: Path, data: bytes) -> bytes:
    advice = (
        "we never replace a key on our own, since that would log everyone out and make stored "
        "provider tokens unreadable: restore the file from a backup, or delete it to start over"
    )
    try:
        key = base64.b64decode(data.strip(), altchars=b"-_", validate=True)
    except binascii.Error as exc:
        raise KeyFileError(path, f"not valid urlsafe base64 ({exc}); {advice}") from None
    if len(key) != _KEY_BYTES:
        raise KeyFileError(path, f"holds {len(key)} bytes instead of {_KEY_BYTES}; {advice}")
    return key


def _create(path: Path) -> bytes:
    key = secrets.token_bytes(_KEY_BYTES)
    # A unique name per attempt, so racing processes never write into each other's file.
    aside = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        _write_private(aside, base64.urlsafe_b64encode(key) + b"\n")
        os.link(aside, path)  # unlike rename, fails if the name exists: the first writer wins
    except FileExistsError:
        return _read(path)  # another process started at the same moment and won the race
    except OSError as exc:
        raise KeyFileError(path, f"cannot create the key: {exc.strerror or exc}") from exc
    finally:
        aside.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return key


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(fd)  # the content is on disk before the name that promises it exists


def _fsync_dir(directory: Path) -> None:
    # Makes the new name itself durable, so a crash right after first start cannot lose the key.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
