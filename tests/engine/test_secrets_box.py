"""``engine.secrets_box``: round trips, tampering and misplaced ciphertexts, with hypothesis."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.secrets_box import SealError, open_, seal

KEY = bytes(range(32))
AAD = "org:spotify:access_token"


@given(st.text(), st.text())
def test_open_undoes_seal(plaintext: str, aad: str) -> None:
    sealed = seal(KEY, plaintext, aad)
    assert sealed.startswith("v1:")
    assert open_(KEY, sealed, aad) == plaintext


@given(st.text(min_size=1), st.data())
def test_any_changed_character_fails(plaintext: str, data: st.DataObject) -> None:
    sealed = seal(KEY, plaintext, AAD)
    index = data.draw(st.integers(min_value=0, max_value=len(sealed) - 1))
    replacement = data.draw(st.sampled_from("ABCabc019-_=:v+/").filter(lambda c: c != sealed[index]))
    tampered = sealed[:index] + replacement + sealed[index + 1:]
    with pytest.raises(SealError):
        open_(KEY, tampered, AAD)


@given(st.text(), st.text(), st.text())
def test_wrong_associated_data_fails(plaintext: str, aad: str, other: str) -> None:
    if aad == other:
        return
    with pytest.raises(SealError):
        open_(KEY, seal(KEY, plaintext, aad), other)


def test_each_seal_uses_a_fresh_nonce_and_the_key_matters() -> None:
    first, second = seal(KEY, "token", AAD), seal(KEY, "token", AAD)
    assert first != second and "token" not in first
    with pytest.raises(SealError):
        open_(os.urandom(32), first, AAD)
    with pytest.raises(SealError):
        seal(b"short", "token", AAD)
    with pytest.raises(SealError):
        open_(KEY, "v1:", AAD)
