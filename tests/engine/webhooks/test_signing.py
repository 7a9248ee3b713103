"""Signing: both styles verify what they signed, with our verifiers and with the ``standardwebhooks``
package, and any change to the body, id, timestamp or secret fails."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
import standardwebhooks
from hypothesis import given
from hypothesis import strategies as st

from engine.webhooks import EVENT_TYPES, signing
from engine.webhooks.signing import VerificationError

NOW = 1_800_000_000
secrets_ = st.binary(min_size=24, max_size=64).map(lambda b: "whsec_" + base64.b64encode(b).decode())
ids = st.from_regex(r"evt_[0-9a-f]{26}", fullmatch=True)
bodies = st.binary(max_size=2048)
stamps = st.integers(NOW - 299, NOW + 299)


def test_all_is_pinned() -> None:
    assert signing.__all__ == sorted(signing.__all__)
    assert "webhook.test" in EVENT_TYPES and "budget.warning" in EVENT_TYPES


def test_a_generated_secret_is_whsec_and_32_random_bytes() -> None:
    secret = signing.generate_secret()
    assert secret.startswith("whsec_") and len(signing.secret_key(secret)) == 32
    assert secret != signing.generate_secret()
    with pytest.raises(ValueError):
        signing.generate_secret(16)


@given(secrets_, ids, stamps, bodies)
def test_both_styles_verify_what_they_signed(secret: str, event_id: str, stamp: int, body: bytes) -> None:
    headers = signing.request_headers(event_id, stamp, body, [secret], user_agent="t")
    signing.verify_standard(secret, headers, body, now=NOW)
    signing.verify_seed(secret, headers, body, now=NOW)


@given(secrets_, ids, bodies)
def test_the_standardwebhooks_package_accepts_our_signature(secret: str, event_id: str, body: bytes) -> None:
    text = body.decode("latin-1").encode()  # the package verifies text
    stamp = int(time.time())
    headers = signing.request_headers(event_id, stamp, text, [secret], user_agent="t")
    standardwebhooks.Webhook(secret).verify(text, headers, json_parse=False)


@given(secrets_, stamps, bodies)
def test_the_seed_signature_is_the_hex_hmac_of_timestamp_dot_body(secret: str, stamp: int, body: bytes) -> None:
    mac = hmac.new(signing.secret_key(secret), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert signing.seed_signature(secret, stamp, body) == "sha256=" + mac


@given(secrets_, ids, stamps, bodies, st.data())
def test_any_tampered_byte_fails(secret: str, event_id: str, stamp: int, body: bytes, data: st.DataObject) -> None:
    headers = signing.request_headers(event_id, stamp, body, [secret], user_agent="t")
    tampered = bytearray(body + b"x")
    index = data.draw(st.integers(0, len(tampered) - 1))
    tampered[index] ^= data.draw(st.integers(1, 255))
    for verify in (signing.verify_standard, signing.verify_seed):
        with pytest.raises(VerificationError):
            verify(secret, headers, bytes(tampered), now=NOW)


@given(secrets_, secrets_, ids, stamps, bodies)
def test_another_secret_fails_and_both_secrets_of_a_rotation_pass(
        secret: str, other: str, event_id: str, stamp: int, body: bytes) -> None:
    if signing.secret_key(secret) == signing.secret_key(other):
        return
    headers = signing.request_headers(event_id, stamp, body, [secret], user_agent="t")
    with pytest.raises(VerificationError):
        signing.verify_standard(other, headers, body, now=NOW)
    with pytest.raises(VerificationError):
        signing.verify_seed(other, headers, body, now=NOW)
    both = signing.request_headers(event_id, stamp, body, [other, secret], user_agent="t")
    for key in (secret, other):
        signing.verify_standard(key, both, body, now=NOW)
        signing.verify_seed(key, both, body, now=NOW)


@given(secrets_, ids, st.integers(301, 10**6), bodies)
def test_a_stale_or_future_timestamp_fails(secret: str, event_id: str, skew: int, body: bytes) -> None:
    for stamp in (NOW - skew, NOW + skew):
        headers = signing.request_headers(event_id, stamp, body, [secret], user_agent="t")
        with pytest.raises(VerificationError, match="tolerance"):
            signing.verify_standard(secret, headers, body, now=NOW)
        with pytest.raises(VerificationError, match="tolerance"):
            signing.verify_seed(secret, headers, body, now=NOW)


def test_a_changed_id_fails_the_standard_style() -> None:
    secret = signing.generate_secret()
    headers = signing.request_headers("evt_a", NOW, b"{}", [secret], user_agent="t")
    with pytest.raises(VerificationError):
        signing.verify_standard(secret, {**headers, "webhook-id": "evt_b"}, b"{}", now=NOW)
