"""What an account actor asks of a provider, as Protocols, and the neutral rows the provider answers with.

The adapters implement them (``adapters/meta/provider.py``, ``adapters/spotify/provider.py``) and the
composition root hands each actor a factory of its provider, so no actor imports an adapter. A provider
call never sleeps and never retries: it answers, or it raises an ``engine.provider`` error, whose class is
how the provider classifies the failure; the actor paces, retries and parks. Rate domains are opaque
strings the adapter names: the actor asks which domains a call is paced in and hands them to its
``Pacer``. The token behind a provider, refreshed when it runs out where the provider allows, is the
adapter's business: an actor never sees it. We do not describe the OAuth flows here (``http_api`` does).

    Protocol               its actor                     what the actor asks of it
    AdsProvider            actors/meta_account.py        ad accounts, daily campaign figures, statuses, a pause,
                           actors/meta_writes.py         a campaign's budget, a status or budget write
    TrackFiguresProvider   actors/spotify_label.py       a catalogue track's figures, an artist's followers
    RecentPlaysProvider    actors/spotify_listener.py    a listener's plays after a cursor
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Protocol

import msgspec

from engine.messages import Metric
from engine.provider import Result

__all__ = [
    "AdAccount",
    "AdsProvider",
    "CampaignBudget",
    "CampaignFigure",
    "Played",
    "RecentPlaysProvider",
    "TrackFigures",
    "TrackFiguresProvider",
]


class AdAccount(msgspec.Struct, frozen=True, kw_only=True):
    """An ad account the token reaches. ``id`` is spelt the way ``AdsProvider.account_id`` spells ids;
    ``timezone_name`` is the IANA zone its days are counted in (None: UTC)."""

    id: str
    name: str | None = None
    currency: str | None = None
    timezone_name: str | None = None


class CampaignFigure(msgspec.Struct, frozen=True, kw_only=True):
    """One whole-day figure of one provider campaign: what a ``MetricSample`` carries but our ids.

    ``campaign`` is the provider's campaign id, ``day`` the ad account's local day, ``spend_minor`` in minor
    units of ``currency``; ``source`` names who reports it (``meta:<campaign id>``), the fact's source.
    """

    campaign: str
    day: date
    metric: Metric
    value: int
    source: str
    currency: str | None = None


class CampaignBudget(msgspec.Struct, frozen=True, kw_only=True):
    """A provider campaign's budget as the provider has it now, in minor units of its ad account's currency:
    a ``daily_minor`` or a ``lifetime_minor`` one, or neither (the budgets are on its ad sets)."""

    daily_minor: int | None = None
    lifetime_minor: int | None = None


class AdsProvider(Protocol):
    """One token's ad accounts, as the ad-account poller needs them. Every call returns a ``Result`` with the
    usage signals its responses carried, or raises an ``engine.provider`` error that carries them."""

    def account_id(self, account_id: str) -> str:
        """``account_id`` spelt as ``AdAccount.id`` spells it (a stored id may be spelt otherwise)."""
        ...

    def accounts_domains(self) -> tuple[str, ...]:
        """The rate domains ``ad_accounts`` is paced in."""
        ...

    async def ad_accounts(self) -> Result[list[AdAccount]]:
        """Every ad account the token reaches."""
        ...

    def figures_domains(self, account_id: str) -> tuple[str, ...]:
        """The rate domains ``daily_figures`` of the account is paced in."""
        ...

    async def daily_figures(self, account: AdAccount, since: date, until: date,
                            campaigns: Collection[str]) -> Result[list[CampaignFigure]]:
        """The figures of ``campaigns`` (provider ids) for each day from ``since`` to ``until``, both included,
        in one call. Raises ``RequestTooLargeError`` when that is too much for one call: ask for less."""
        ...

    def campaigns_domains(self, account_id: str) -> tuple[str, ...]:
        """The rate domains the account's campaign calls (``campaign_statuses``, ``campaign_budget``,
        ``set_campaign``, ``pause_campaign``) are paced in."""
        ...

    async def campaign_statuses(self, account_id: str) -> Result[dict[str, str | None]]:
        """Every campaign of the account: provider id → its delivery status, in the provider's words."""
        ...

    def spending(self, status: str | None) -> bool:
        """Whether a campaign whose status is ``status`` (as ``campaign_statuses`` says it) spends."""
        ...

    async def pause_campaign(self, account_id: str, campaign: str) -> Result[str]:
        """Stop ``campaign`` (a provider id) spending; returns its status now."""
        ...

    async def campaign_budget(self, account_id: str, campaign: str) -> Result[CampaignBudget]:
        """The budget ``campaign`` (a provider id) has now."""
        ...

    async def set_campaign(self, account_id: str, campaign: str, *, status: str | None = None,
                           lifetime_budget_minor: int | None = None, validate_only: bool = False) -> Result[None]:
        """Set ``campaign``'s status (in the provider's words, as ``campaign_statuses`` says them) and/or its
        lifetime budget (minor units of the ad account's currency): an idempotent "set to X". With
        ``validate_only`` the provider checks the write and applies nothing; a refusal raises as the write
        would (``FatalProviderError`` for a value the provider will not take)."""
        ...


class TrackFigures(msgspec.Struct, frozen=True, kw_only=True):
    """A catalogue track as the provider sees it now: its ``popularity`` (None: not given) and the provider
    id of its first artist (None: it has none)."""

    popularity: int | None = None
    artist: str | None = None


class TrackFiguresProvider(Protocol):
    """One label account's view of the catalogue. Calls raise ``engine.provider`` errors; a refused
    refresh of the account's token raises ``ReauthRequiredError``, the account already marked."""

    @property
    def domains(self) -> tuple[str, ...]:
        """The rate domains every call is paced in."""
        ...

    async def track(self, track: str) -> TrackFigures:
        """The figures of ``track`` (a provider id)."""
        ...

    async def artist_followers(self, artist: str) -> int | None:
        """How many follow ``artist`` (a provider id); None when the provider does not say."""
        ...


class Played(msgspec.Struct, frozen=True, kw_only=True):
    """One finished play of a listener: ``track`` is the provider's track id (None: a local file, which
    has none) and ``context`` where it was played from (a provider URI: a playlist, an album), if known."""

    played_at: datetime
    track: str | None = None
    context: str | None = None


class RecentPlaysProvider(Protocol):
    """One listener's account. Calls raise ``engine.provider`` errors; a refused refresh of the listener's
    token raises ``ReauthRequiredError``, the listener already marked."""

    @property
    def domains(self) -> tuple[str, ...]:
        """The rate domains every call is paced in."""
        ...

    async def plays_after(self, after_ms: int | None, limit: int) -> list[Played]:
        """Up to ``limit`` of the listener's plays after ``after_ms`` (Unix milliseconds, exclusive; None:
        the most recent), newest first."""
        ...
