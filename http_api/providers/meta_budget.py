"""Our campaign's budget on its linked Meta campaign: the lifetime budget in minor units of the ad account's
currency (``engine.money.lifetime_budget_minor``), pushed at link, at launch (in the same write as the
ACTIVE status) and on every change of our budget or currency.

Each push's outcome is recorded on the campaign (``campaign_meta.record_meta_sync``: the API's ``metaSync``),
a refusal with ``campaign.meta_sync_failed``; nothing is dropped silently. Two kinds of refusal:

- Meta's (or Meta unreachable, or not connected): an ``ApiError`` from ``meta_client`` (502, 409, 503
  ``INTEGRATION_ERROR`` with Meta's message);
- ours, ``BudgetNotPushable`` (409 ``CONFLICT``): the campaign's currency is not the ad account's (we push
  no converted guess), or the Meta campaign has a daily budget (Meta does not switch a campaign between
  daily and lifetime budgets, and ours is a total).

Whether a refusal is raised is the caller's: a PATCH and a launch answer with Meta's refusal and change
nothing of ours; a link succeeds (the link is ours) with the refusal recorded; a launch whose budget we
cannot push still launches (the status is pushed alone) with our refusal recorded.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from adapters.meta.client import MetaClient
from adapters.meta.schemas import AdAccount
from adapters.meta.schemas import Campaign as MetaCampaign
from engine.money import DAILY_BUDGET, NOT_PUSHABLE, BudgetNotPushable, lifetime_budget_minor
from engine.store import campaign_meta
from engine.store.campaign_model import Campaign, CampaignMetaRefusal
from http_api.errors import ApiError, ErrorDetail
from http_api.providers.clients import meta_client
from http_api.routing import Call

__all__ = ["SyncAction", "push_budget", "record_refusal", "remember_account", "unpushable"]

SyncAction = Literal["set_budget", "launch"]


def unpushable(message: str) -> ApiError:
    """Our own refusal to push (``BudgetNotPushable``) as the API answers it."""
    return ApiError(409, "CONFLICT", f"{NOT_PUSHABLE}: {message}",
                    [ErrorDetail("budget", message)])


async def record_refusal(call: Call, campaign: Campaign, action: SyncAction, error: ApiError) -> None:
    """Keep ``error`` on the campaign and announce it (``campaign.meta_sync_failed``)."""
    refusal = CampaignMetaRefusal(action=action, code=error.code, message=error.message, at=call.ctx.domain_now())
    await campaign_meta.record_meta_sync(call.db, call.caller.organization_id, campaign.id, now=refusal.at,
                                         error=refusal)


async def push_budget(call: Call, campaign: Campaign, *, action: SyncAction, status: str | None = None,
                      budget: float | None = None, currency: str | None = None,
                      meta: MetaCampaign | None = None, raise_refusal: bool = True) -> int | None:
    """Push ``budget`` in ``currency`` (default: the campaign's) to the campaign's linked Meta campaign, with
    ``status`` in the same write when given, record the outcome, and return the lifetime budget Meta now has
    from us (``None`` when refused). ``meta`` is the Meta campaign when the caller has just read it (a link);
    otherwise we read it, to know its budget type and current budget.

    Error handling: a refusal is recorded, then raised as an ``ApiError`` unless ``raise_refusal`` is False.
    With a ``status``, a budget we cannot push does not stop the status: it goes alone, our refusal recorded.
    """
    act_id, meta_id = campaign.meta_ad_account_id, campaign.meta_campaign_id
    assert act_id is not None and meta_id is not None, "push_budget needs a linked campaign"
    amount = Decimal(str(campaign.budget if budget is None else budget))
    ours = campaign.currency if currency is None else currency
    refused: ApiError | None = None
    minor: int | None = None
    try:
        async with meta_client(call) as (client, _):
            account_currency = await _account_currency(call, client, act_id)
            if meta is None:
                meta = await _read(client, act_id, meta_id)
            try:
                minor = _target(amount, ours, account_currency, meta)
            except BudgetNotPushable as exc:
                refused = unpushable(exc.message)
                if status is None:
                    raise refused from exc
            changed = None if minor is None or (meta is not None and meta.lifetime_budget == minor) else minor
            if status is not None or changed is not None:
                await client.update_campaign(meta_id, status=status, lifetime_budget_minor=changed, act_id=act_id)
    except ApiError as exc:
        await record_refusal(call, campaign, action, exc)
        if raise_refusal:
            raise
        return None
    if refused is not None:
        await record_refusal(call, campaign, action, refused)
        return None
    await campaign_meta.record_meta_sync(call.db, call.caller.organization_id, campaign.id,
                                         now=call.ctx.domain_now(), budget_minor=minor, currency=account_currency)
    return minor


def _target(amount: Decimal, currency: str, account_currency: str | None, meta: MetaCampaign | None) -> int:
    minor = lifetime_budget_minor(amount, currency, account_currency)
    if meta is not None and meta.daily_budget is not None:
        raise BudgetNotPushable(DAILY_BUDGET)
    return minor


async def _account_currency(call: Call, client: MetaClient, act_id: str) -> str | None:
    """The ad account's currency as the poller recorded it; read from Meta (and recorded) when not yet."""
    org_id = call.caller.organization_id
    known = await campaign_meta.ad_account_currency(call.db, org_id, act_id)
    if known is not None:
        return known
    account = (await client.account(act_id)).data
    await remember_account(call, account)
    return account.currency


async def remember_account(call: Call, account: AdAccount) -> None:
    """Record the ad account as read from Meta (as the poller does), so a push finds its currency."""
    info = campaign_meta.AdAccountInfo(account_id=account.id, name=account.name, currency=account.currency,
                                       timezone_name=account.timezone_name)
    await campaign_meta.record_ad_accounts(call.db, call.caller.organization_id, [info])


async def _read(client: MetaClient, act_id: str, meta_id: str) -> MetaCampaign:
    """The Meta campaign as Meta has it now: one read of that campaign, not the account's whole listing."""
    return (await client.campaign(meta_id, act_id=act_id)).data
