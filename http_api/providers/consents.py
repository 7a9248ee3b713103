"""The fan's revoke link: ``/v1/listen/consents/{id}/revoke?signature=...``, given on the opt-in page.

GET shows what withdrawing does and a button; the button's POST withdraws (a link preview or a prefetch
never revokes anything). The link is the fan's capability: it is signed (``engine.consent_links``), so
it cannot be made up or pointed at another consent, and it works once. What a revocation erases is the
store's (``engine.store.consents``). Every answer is a small HTML page, as on the opt-in hops.
"""

from __future__ import annotations

import uuid

import msgspec
from quart import Response, request

from engine import consent_links
from engine.store import consents
from http_api.context import ApiContext
from http_api.providers.listeners import fan_page
from http_api.routing import Access, Call, Router

__all__ = ["consents_router"]


class RevokeQuery(msgspec.Struct, frozen=True):
    signature: str = ""


_PAGES = (
    (403, None, "An HTML page: the link is not one we made (changed or made up)"),
    (404, None, "An HTML page: no such consent (its organization was deleted)"),
    (410, None, "An HTML page: the consent was already withdrawn; the link works once"),
)
_FORGED = ("Link not valid", "This link is not one we made: it may have been changed. Use the link from the page"
           " you saw when you connected.")


def consents_router(ctx: ApiContext) -> Router:
    router = Router("consents", ctx, tag="Listeners")
    key = consent_links.link_key(ctx.keys.jwt_signing_key)
    rule = "/v1/listen/consents/<uuid:consent_id>/revoke"

    @router.route("GET", rule, summary="A fan opens their revoke link", access=Access.PUBLIC, query=RevokeQuery,
                  other_responses=((200, None, "An HTML page with the button that withdraws"), *_PAGES),
                  description="An HTML page saying what withdrawing the consent does, with a button that POSTs"
                              " to this same link. Nothing changes on GET.")
    async def show_revoke(call: Call, consent_id: uuid.UUID) -> Response:
        if not consent_links.valid(key, consent_id, call.query.signature):
            return fan_page(403, *_FORGED)
        consent = await consents.get_consent(call.db, consent_id)
        if consent is None:
            return fan_page(404, "Nothing to withdraw", "We hold no consent of yours under this link any more.")
        if consent.revoked_at is not None:
            return _already(consent.revoked_at.date().isoformat())
        return fan_page(200, "Withdraw your consent",
                        f"You connected your Spotify account to {consent.campaign_name or 'a campaign'}. Withdrawing"
                        " disconnects it and erases every play we read from it; we keep only the record that you"
                        " consented and withdrew.", form=(request.full_path, "Withdraw my consent"))

    @router.route("POST", rule, summary="A fan withdraws their consent", access=Access.PUBLIC, query=RevokeQuery,
                  other_responses=((200, None, "An HTML page: withdrawn, with how many plays were erased"), *_PAGES),
                  description="Disconnects the fan's Spotify account from the organization, erases their plays"
                              " (and their share of the campaigns' streams) and marks the consent withdrawn, with"
                              " the time, address and browser. Answers an HTML page; a second use answers 410.")
    async def revoke(call: Call, consent_id: uuid.UUID) -> Response:
        if not consent_links.valid(key, consent_id, call.query.signature):
            return fan_page(403, *_FORGED)
        outcome = await consents.revoke_consent(call.db, consent_id, ip=request.remote_addr,
                                                user_agent=(request.headers.get("User-Agent") or "")[:300] or None)
        if outcome is None:
            return fan_page(404, "Nothing to withdraw", "We hold no consent of yours under this link any more.")
        if isinstance(outcome, consents.AlreadyRevoked):
            return _already(outcome.revoked_at.date().isoformat())
        return fan_page(200, "Consent withdrawn",
                        f"Your Spotify account is disconnected and the {outcome.plays_erased} plays we had read"
                        " from it are erased.")

    return router


def _already(day: str) -> Response:
    return fan_page(410, "Already withdrawn", f"You withdrew this consent on {day} (UTC); this link works once.")
