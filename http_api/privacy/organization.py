"""What ``GET /v1/organization/export`` and ``DELETE /v1/organization`` do (declared in ``routes.py``): an
organization's data as a whole, for its owners.

It owns the confirmation (the organization's name, typed), revoking the providers' grants where the
provider allows it (Meta: ``DELETE /me/permissions``; Spotify has no revoke endpoint, so its tokens are
only deleted), and the order: revoke while the tokens can still be read, then delete. What the export
holds and what deletion removes are the store's (``engine.store.organization_data``).
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

import msgspec
from quart import Response

from adapters.meta.client import MetaClient
from engine.provider import ProviderError
from engine.secrets_box import SealError
from engine.store import accounts, organization_data
from engine.store import integrations as integration_store
from http_api.context import ApiContext
from http_api.errors import ApiError, ErrorDetail
from http_api.privacy.archive import build_archive, stream_file
from http_api.responses import attachment
from http_api.routing import Call

__all__ = ["DeletionBody", "delete_organization", "export_organization"]

log = logging.getLogger(__name__)


class DeletionBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    confirm: Annotated[str, msgspec.Meta(max_length=200, description="The organization's name, as it is spelled")]


async def export_organization(call: Call) -> Response:
    """The zip as a streamed attachment."""
    org_id = call.caller.organization_id
    spool = await build_archive(organization_data.export_batches(call.db, org_id))
    size = spool.seek(0, 2)
    spool.seek(0)
    day = call.ctx.domain_now().date().isoformat()
    return attachment(stream_file(spool), "application/zip", f"songtrack-organization-{day}.zip",
                      {"Content-Length": str(size)})


async def delete_organization(call: Call, confirm: str) -> None:
    """Delete the caller's organization once ``confirm`` is its name; ApiError 400 naming ``confirm``."""
    org_id = call.caller.organization_id
    org = await accounts.get_organization(call.db, org_id)
    if org is None:
        raise ApiError(401, "AUTHENTICATION_ERROR", "the session has ended; log in again")
    if confirm != org.name:
        raise ApiError(400, "VALIDATION_ERROR", "Validation failed",
                       [ErrorDetail("confirm", "must be the organization's name, exactly")])
    await _revoke_meta(call.ctx, org_id)
    await organization_data.delete_organization(call.db, org_id)


async def _revoke_meta(ctx: ApiContext, org_id: uuid.UUID) -> None:
    """Ask Meta to forget our grant for each connected Meta account. A refusal (a token already dead), an
    outage or a token that does not open does not stop the deletion: the token is deleted anyway."""
    db, meta = ctx.db(), ctx.settings.meta
    for integration in await integration_store.list_integrations(db, org_id):
        if integration.provider != "meta":
            continue
        try:
            tokens = await integration_store.get_tokens(db, ctx.keys.token_encryption_key, org_id, integration.id)
        except SealError:  # sealed under a key we no longer hold: we cannot use it, nor can anyone else
            log.warning("the token of Meta account %s does not open; not revoked", integration.external_account_id)
            continue
        if tokens is None:
            continue
        async with ctx.http_factory() as http:
            client = MetaClient(http, tokens.access_token, base_url=meta.graph_url, version=meta.api_version)
            try:
                await client.revoke_permissions()
            except ProviderError as exc:
                log.warning("Meta refused to revoke the grant of account %s: %s", integration.external_account_id,
                            exc)
