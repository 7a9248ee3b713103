"""Signed download links: a link works for its export until its moment, and changing any part of it (the
export, the moment, the signature, the key) makes it invalid."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from engine import report_links

_keys = st.binary(min_size=32, max_size=32)


@given(secret=_keys, export_id=st.uuids(), expires=st.integers(0, 2**40), now=st.integers(0, 2**40))
def test_a_link_is_valid_for_its_export_until_it_expires(secret: bytes, export_id: uuid.UUID, expires: int,
                                                         now: int) -> None:
    key = report_links.link_key(secret)
    signature = report_links.sign(key, export_id, expires)
    assert report_links.check(key, export_id, expires, signature, now) == ("valid" if now < expires else "expired")
    assert report_links.download_path(key, export_id, expires).endswith(f"expires={expires}&signature={signature}")


@given(secret=_keys, other_secret=_keys, export_id=st.uuids(), other_id=st.uuids(), expires=st.integers(1, 2**40),
       later=st.integers(1, 2**20), flip=st.integers(0, 63))
def test_a_changed_link_is_invalid(secret: bytes, other_secret: bytes, export_id: uuid.UUID, other_id: uuid.UUID,
                                   expires: int, later: int, flip: int) -> None:
    key = report_links.link_key(secret)
    signature = report_links.sign(key, export_id, expires)
    flipped = signature[:flip] + ("0" if signature[flip] != "0" else "1") + signature[flip + 1:]
    assert report_links.check(key, export_id, expires, flipped, 0) == "invalid"
    assert report_links.check(key, export_id, expires + later, signature, 0) == "invalid"
    if other_id != export_id:
        assert report_links.check(key, other_id, expires, signature, 0) == "invalid"
    if other_secret != secret:
        assert report_links.check(report_links.link_key(other_secret), export_id, expires, signature, 0) == "invalid"
