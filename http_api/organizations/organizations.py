"""The caller's organization and its people: the organization itself, its members and their roles,
invitations, and accepting an invitation (which creates the invited user).

It owns who may change whom (only an owner grants or removes the owner role; an admin cannot touch an
owner) and the invitation email. Logging in is ``http_api.auth.auth``'s; keeping an owner is the store's rule.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

import msgspec

from engine.passwords import hash_password
from engine.store import accounts, invitations
from http_api.auth.attempts import limit_failures
from http_api.auth.credentials import UserOut, user_out
from http_api.auth.email import email_link
from http_api.context import ApiContext
from http_api.errors import ApiError, ErrorDetail
from http_api.fields import Email, Password, normalize_email
from http_api.pagination import ListQuery, Pagination, paginate
from http_api.routing import Access, Call, Router

__all__ = [
    "AcceptBody", "InvitationBody", "RoleChange", "accept_invitation", "change_role", "invite_by_email",
    "organizations_router", "remove_from_organization", "revoke_pending_invitation",
]  # fmt: skip

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class OrganizationInfo(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: uuid.UUID
    name: str
    tier: accounts.Tier
    created_at: datetime


class OrganizationChanges(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    tier: accounts.Tier | msgspec.UnsetType = msgspec.UNSET


class Member(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: uuid.UUID
    email: str
    name: str
    role: accounts.Role
    email_verified: bool
    created_at: datetime


class MemberList(msgspec.Struct, frozen=True):
    members: list[Member]
    pagination: Pagination


class RoleChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    role: accounts.Role


class InvitationBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email
    role: invitations.InvitationRole


class InvitationOut(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: uuid.UUID
    email: str
    role: invitations.InvitationRole
    status: invitations.InvitationStatus
    invited_by: uuid.UUID | None
    created_at: datetime
    expires_at: datetime


class InvitationList(msgspec.Struct, frozen=True):
    invitations: list[InvitationOut]
    pagination: Pagination


class AcceptBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    name: Name
    password: Password


class AcceptedInvitation(msgspec.Struct, frozen=True):
    user: UserOut


_EMAIL_TAKEN = ErrorDetail("email", "already registered")


def organizations_router(ctx: ApiContext) -> Router:
    router = Router("organizations", ctx, tag="Organization")
    _organization_routes(router)
    _member_routes(router)
    _invitation_routes(router)
    return router


def _organization_routes(router: Router) -> None:
    @router.route("GET", "/v1/organization", summary="The caller's organization", access=Access.VIEWER,
                  response=OrganizationInfo)
    async def get_organization(call: Call) -> OrganizationInfo:
        org = await accounts.get_organization(call.db, call.caller.organization_id)
        if org is None:  # the session check joins the organization, so only a race gets here
            raise ApiError(404, "NOT_FOUND", "no such organization")
        return _organization_out(org)

    @router.route("PATCH", "/v1/organization", summary="Rename the organization or set its tier",
                  access=Access.OWNER, body=OrganizationChanges, response=OrganizationInfo,
                  description="The tier sets the hourly API request limit. There is no billing here: on a "
                              "self-hosted server the tier is the operator's switch, set by an owner.")
    async def update_organization(call: Call) -> OrganizationInfo:
        changes: OrganizationChanges = call.body
        org = await accounts.update_organization(
            call.db, call.caller.organization_id,
            name=None if changes.name is msgspec.UNSET else changes.name,
            tier=None if changes.tier is msgspec.UNSET else changes.tier,
        )
        if org is None:
            raise ApiError(404, "NOT_FOUND", "no such organization")
        return _organization_out(org)


def _member_routes(router: Router) -> None:
    @router.route("GET", "/v1/organization/members", summary="The organization's members",
                  access=Access.VIEWER, query=ListQuery, response=MemberList, description="Oldest first.")
    async def list_members(call: Call) -> MemberList:
        found, pagination = paginate(await accounts.list_members(call.db, call.caller.organization_id), call.query)
        return MemberList([_member_out(u) for u in found], pagination)

    @router.route("PATCH", "/v1/organization/members/<uuid:user_id>", summary="Change a member's role",
                  access=Access.ADMIN, body=RoleChange, response=Member, errors=(409,),
                  description="Only an owner may grant or take away the owner role. The organization "
                              "always keeps at least one owner (409 otherwise).")
    async def set_role(call: Call, user_id: uuid.UUID) -> Member:
        return _member_out(await change_role(call, user_id, call.body.role))

    @router.route("DELETE", "/v1/organization/members/<uuid:user_id>", summary="Remove a member",
                  access=Access.ADMIN, status=204, errors=(409,),
                  description="Deletes the user with their sessions, so their tokens stop working at once. "
                              "Only an owner may remove an owner; the last owner cannot be removed.")
    async def remove_member(call: Call, user_id: uuid.UUID) -> None:
        await remove_from_organization(call, user_id)


def _invitation_routes(router: Router) -> None:
    @router.route("POST", "/v1/organization/invitations", summary="Invite someone by email",
                  access=Access.ADMIN, body=InvitationBody, response=InvitationOut, status=201,
                  errors=(409,),
                  description="Emails an accept link and the token itself. A newer invitation of the same "
                              "address replaces a pending one. The token is never in the response.")
    async def invite(call: Call) -> InvitationOut:
        return _invitation_out(await invite_by_email(call, call.body))

    @router.route("GET", "/v1/organization/invitations", summary="The organization's invitations",
                  access=Access.ADMIN, query=ListQuery, response=InvitationList,
                  description="Every invitation, whatever its status, newest first.")
    async def list_invitations(call: Call) -> InvitationList:
        window: ListQuery = call.query
        page = await invitations.list_invitations(call.db, call.caller.organization_id, limit=window.limit,
                                                  offset=window.offset)
        return InvitationList([_invitation_out(i) for i in page.items], Pagination.of(page))

    @router.route("DELETE", "/v1/organization/invitations/<uuid:invitation_id>",
                  summary="Revoke a pending invitation", access=Access.ADMIN, status=204)
    async def revoke_invitation(call: Call, invitation_id: uuid.UUID) -> None:
        await revoke_pending_invitation(call, invitation_id)

    @router.route("POST", "/v1/auth/accept-invitation", summary="Accept an invitation and create the user",
                  access=Access.PUBLIC, body=AcceptBody, response=AcceptedInvitation, status=201,
                  errors=(409, 429),
                  description="Creates the invited user, email verified, with the invited role. Then log "
                              "in with POST /v1/auth/login. Each token works once.")
    async def accept(call: Call) -> AcceptedInvitation:
        return AcceptedInvitation(user_out(await accept_invitation(call, call.body)))


async def accept_invitation(call: Call, body: AcceptBody) -> accounts.User:
    """The user the invitation creates; ApiError 400 for a bad token, 409 when the address has an account
    since, under the auth limit (429). The API and the console's invitation page accept through here."""
    async with limit_failures(call, None):  # a wrong token is a guess
        password_hash = await hash_password(body.password)
        try:
            return await invitations.accept_invitation(call.db, body.token, name=body.name,
                                                       password_hash=password_hash)
        except invitations.InvalidInvitation:
            raise ApiError(400, "VALIDATION_ERROR", "this invitation is invalid, used, revoked or expired",
                           [ErrorDetail("token", "invalid, used, revoked or expired")]) from None
        except accounts.EmailTaken:
            raise ApiError(409, "CONFLICT", "this address already has an account", [_EMAIL_TAKEN]) from None


async def change_role(call: Call, user_id: uuid.UUID, role: accounts.Role) -> accounts.User:
    """The member with their new role. ApiError 404 for no such member, 403 when the owner role is
    granted or taken by a non-owner, 409 (naming ``role``) for the last owner."""
    target = await _member_or_404(call, user_id)
    if "owner" in (role, target.role):
        _require_owner(call, "only an owner may grant or remove the owner role")
    try:
        changed = await accounts.set_member_role(call.db, call.caller.organization_id, user_id, role)
    except accounts.LastOwner:
        raise _last_owner() from None
    if changed is None:  # removed between our read and the update
        raise ApiError(404, "NOT_FOUND", "no such member")
    return changed


async def remove_from_organization(call: Call, user_id: uuid.UUID) -> None:
    """Delete the member with their sessions. ApiError 404, 403 (an owner, by a non-owner), 409 (the
    last owner)."""
    target = await _member_or_404(call, user_id)
    if target.role == "owner":
        _require_owner(call, "only an owner may remove an owner")
    try:
        removed = await accounts.remove_member(call.db, call.caller.organization_id, user_id)
    except accounts.LastOwner:
        raise _last_owner() from None
    if not removed:
        raise ApiError(404, "NOT_FOUND", "no such member")


async def invite_by_email(call: Call, body: InvitationBody) -> invitations.Invitation:
    """The new invitation, its email sent (replacing a pending one of the address). ApiError 409 naming
    ``email`` when the address already has an account."""
    me = call.caller
    try:
        invitation, token = await invitations.create_invitation(
            call.db, me.organization_id, email=normalize_email(body.email), role=body.role,
            invited_by=me.user_id, ttl=timedelta(seconds=call.ctx.settings.auth.invitation_ttl),
        )
    except accounts.EmailTaken:
        raise ApiError(409, "CONFLICT", "this address already has an account", [_EMAIL_TAKEN]) from None
    await _send_invitation(call, invitation, token)
    return invitation


async def revoke_pending_invitation(call: Call, invitation_id: uuid.UUID) -> None:
    """Revoke the organization's pending invitation; ApiError 404 when there is none with this id."""
    if not await invitations.revoke_invitation(call.db, call.caller.organization_id, invitation_id):
        raise ApiError(404, "NOT_FOUND", "no pending invitation with this id")


async def _member_or_404(call: Call, user_id: uuid.UUID) -> accounts.User:
    """The member of the caller's organization; another organization's id is as unknown as a random one.

    The role we check is read before the change; a concurrent promotion to owner in between could slip
    past an admin. The store serializes membership changes, so the owner count itself stays safe.
    """
    user = await accounts.get_user(call.db, call.caller.organization_id, user_id)
    if user is None:
        raise ApiError(404, "NOT_FOUND", "no such member")
    return user


def _require_owner(call: Call, message: str) -> None:
    if call.caller.role != "owner":
        raise ApiError(403, "AUTHORIZATION_ERROR", message)


def _last_owner() -> ApiError:
    return ApiError(409, "CONFLICT", "an organization needs at least one owner",
                    [ErrorDetail("role", "this is the last owner")])


async def _send_invitation(call: Call, invitation: invitations.Invitation, token: str) -> None:
    org = await accounts.get_organization(call.db, invitation.organization_id)
    org_name = org.name if org is not None else "an organization"
    lifetime = _duration(call.ctx.settings.auth.invitation_ttl)
    await call.ctx.mailer.send(
        to=invitation.email, subject=f"You are invited to {org_name} on SongTrackPro",
        org_id=invitation.organization_id,
        body=f"Hello,\n\nYou are invited to join {org_name} on SongTrackPro as {invitation.role}.\n\n"
             f"To accept, open:\n{email_link(call, '/accept-invitation', token)}\n\n"
             f"The invitation works once and expires in {lifetime}.\n",
    )


def _duration(seconds: int) -> str:
    if seconds % 86_400 == 0:
        return f"{seconds // 86_400} day(s)"
    return f"{seconds / 3600:.0f} hour(s)"


def _organization_out(org: accounts.Organization) -> OrganizationInfo:
    return OrganizationInfo(id=org.id, name=org.name, tier=org.tier, created_at=org.created_at)


def _member_out(user: accounts.User) -> Member:
    return Member(id=user.id, email=user.email, name=user.name, role=user.role,
                  email_verified=user.email_verified, created_at=user.created_at)


def _invitation_out(invitation: invitations.Invitation) -> InvitationOut:
    return InvitationOut(id=invitation.id, email=invitation.email, role=invitation.role,
                         status=invitation.status, invited_by=invitation.invited_by,
                         created_at=invitation.created_at, expires_at=invitation.expires_at)
