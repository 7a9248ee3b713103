"""The privacy routes (docs/privacy.md): a person's own data (``people.py``) and an organization's as a whole
(``organization.py``), exported or erased. Declarations only: each route calls its module's function, which
the console's buttons call too."""

from __future__ import annotations

from quart import Response

from http_api.context import ApiContext
from http_api.privacy.organization import DeletionBody, delete_organization, export_organization
from http_api.privacy.people import ErasureBody, erase_me, export_me
from http_api.routing import Access, Call, Router

__all__ = ["privacy_router"]

_MY_EXPORT = (
    "Everything we hold about the caller, as a JSON download (`Content-Disposition: attachment`): the profile,"
    " memberships and roles, sessions (no token material), pending logins, invitations sent and received, the"
    " emails and notifications addressed to them, their actions in the rules' history, the rules, campaigns"
    " paused, integrations, sync runs, imports and exports they started, and the webhook events that name them."
    " Password hashes, token hashes and ciphertexts never leave. Sections are listed in docs/privacy.md;"
    " rows keep the database's column names.")
_MY_ERASURE = (
    "Erases the caller. The body must carry the current `password` (400 naming `password` when it is missing"
    " or wrong; wrong guesses count towards the sign-in limit, 429). Ends every session at once (access and"
    " refresh tokens stop working), deletes the account, the mail sent to it and invitations to its address;"
    " what the organization keeps (rules' history, campaigns' pause causes, webhook events) stays without the"
    " person: their id becomes null. 409 when the caller is the organization's last owner: hand ownership"
    " over first (`PATCH /v1/organization/members/{id}` with role owner), or, when nobody else is a member,"
    " delete the organization (`DELETE /v1/organization`), which erases the caller with it.")
_ORG_EXPORT = (
    "Owners only. Everything of the organization as a zip of JSON Lines files, one per kind (members,"
    " invitations, tracks, campaigns and goals, audiences, rules and their runs, webhooks and deliveries,"
    " alerts, notifications, integrations, imports, exports, stream data, fans and their consents, emails…),"
    " built from one consistent snapshot in a temporary file, then streamed. Secrets (password and token"
    " hashes, sealed tokens, webhook secrets) and report files are left out. See docs/privacy.md.")
_ORG_DELETION = (
    "Owners only. The body's `confirm` must be the organization's name (400 otherwise). Revokes the providers'"
    " grants where the provider allows it (Meta: `DELETE /me/permissions`; Spotify has no revoke endpoint, so"
    " its tokens are only deleted), stops the account actors, ends every member's session, and deletes all of"
    " the organization's data; webhook deliveries still pending are never sent. Every member is erased with"
    " it: a person belongs to one organization.")


def privacy_router(ctx: ApiContext) -> Router:
    router = Router("privacy", ctx, tag="Privacy")

    @router.route("GET", "/v1/users/me/export", summary="Download everything we hold about you",
                  access=Access.VIEWER, description=_MY_EXPORT,
                  other_responses=((200, None, "The export, as an application/json attachment"),))
    async def export_my_data(call: Call) -> Response:
        return await export_me(call)

    @router.route("DELETE", "/v1/users/me", summary="Erase your account", access=Access.VIEWER,
                  body=ErasureBody, status=204, errors=(409, 429), description=_MY_ERASURE)
    async def erase_my_account(call: Call) -> None:
        await erase_me(call, call.body.password)

    @router.route("GET", "/v1/organization/export", summary="Download all of the organization's data",
                  access=Access.OWNER, description=_ORG_EXPORT,
                  other_responses=((200, None, "The export, as an application/zip attachment"),))
    async def export_organization_data(call: Call) -> Response:
        return await export_organization(call)

    @router.route("DELETE", "/v1/organization", summary="Delete the organization and all its data",
                  access=Access.OWNER, body=DeletionBody, status=204, description=_ORG_DELETION)
    async def delete_organization_data(call: Call) -> None:
        await delete_organization(call, call.body.confirm)

    return router
