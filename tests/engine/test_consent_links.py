"""``engine.consent_links``: a revoke link's signature names one consent, a changed byte or another consent
fails, and any text (non-ASCII included) is refused, never an error."""

from __future__ import annotations

import os
import uuid

from hypothesis import given
from hypothesis import strategies as st

from engine import consent_links

KEY = consent_links.link_key(os.urandom(32))


@given(st.uuids())
def test_a_signature_opens_its_consent_only(consent_id: uuid.UUID) -> None:
    signature = consent_links.sign(KEY, consent_id)
    assert consent_links.valid(KEY, consent_id, signature)
    assert not consent_links.valid(KEY, uuid.uuid4(), signature)
    assert consent_links.revoke_path(KEY, consent_id) == (
        f"/v1/listen/consents/{consent_id}/revoke?signature={signature}")


@given(st.uuids(), st.text())
def test_any_other_text_is_refused(consent_id: uuid.UUID, text: str) -> None:
    assert consent_links.valid(KEY, consent_id, text) == (text == consent_links.sign(KEY, consent_id))
