"""The simulated Meta world: ad accounts, campaigns and what they really delivered, on a simulated clock.

It owns the objects and the ground truth (``truth``) that tests compare insights against; it knows
nothing of HTTP, tokens or quotas. Everything is derived from the seed, so two worlds with the same
seed and the same calls are identical.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from .clock import Clock
from .config import SimulatorConfig
from .delivery import BudgetHistory, StatusHistory, day_spend
from .metrics import DayDraws, DayMetrics, day_draws, from_spend, restatement_factor, split

__all__ = ["CURRENCY_OFFSETS", "Account", "Campaign", "World", "per_usd"]

# Minor units per major unit (PROVIDERS.md A3): 1 for the currencies without cents.
CURRENCY_OFFSETS = {c: 1 for c in ("CLP", "COP", "CRC", "HUF", "ISK", "IDR", "JPY", "KRW", "PYG", "TWD", "VND")}
_PER_USD = {"USD": 1.0, "JPY": 150.0, "KRW": 1350.0, "GBP": 0.8, "EUR": 0.92, "NZD": 1.7}
_PROFILES = (
    ("USD", "America/Los_Angeles"),
    ("JPY", "Asia/Tokyo"),
    ("USD", "Pacific/Honolulu"),
    ("KRW", "Pacific/Tongatapu"),
    ("GBP", "Europe/London"),
    ("NZD", "Pacific/Auckland"),
)
_OBJECTIVES = ("OUTCOME_AWARENESS", "OUTCOME_TRAFFIC", "OUTCOME_ENGAGEMENT", "OUTCOME_SALES")


def offset_of(currency: str) -> int:
    return CURRENCY_OFFSETS.get(currency, 100)


def per_usd(currency: str) -> float:
    """Units of ``currency`` to one US dollar; a currency without a rate is priced like USD."""
    return _PER_USD.get(currency, 1.0)


@dataclass(slots=True)
class Account:
    account_id: str  # digits; the Graph id is ``act_<account_id>``
    name: str
    currency: str
    timezone_name: str
    account_status: int = 1

    @property
    def offset(self) -> int:
        return offset_of(self.currency)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone_name)


@dataclass(slots=True)
class Campaign:
    """A campaign and its two histories, appended at the simulated moment of each write (``delivery``)."""

    id: str
    account_id: str
    name: str
    objective: str
    special_ad_categories: list[str]
    created_time: float
    updated_time: float
    history: StatusHistory = field(default_factory=list)
    budgets: BudgetHistory = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.history[-1][1]

    @property
    def daily_budget(self) -> int | None:
        return self.budgets[-1][1]

    @property
    def lifetime_budget(self) -> int | None:
        return self.budgets[-1][2]


class World:
    """Accounts and campaigns generated from ``config.seed``; delivery computed on ``clock``."""

    def __init__(self, config: SimulatorConfig, clock: Clock) -> None:
        self.config, self.clock = config, clock
        self._rng = random.Random(config.seed)
        self.accounts: dict[str, Account] = {}
        self.campaigns: dict[str, Campaign] = {}
        self.pixels: dict[str, str] = {}  # pixel id → ad account id (digits)
        self._settled: dict[str, list[int]] = {}  # campaign id → running totals of its days over (_spent_before)
        self._by_account: dict[str, list[Campaign]] = {}  # ad account id → its campaigns, in creation order
        self._build()

    def _new_id(self, prefix: str) -> str:
        while True:
            candidate = prefix + "".join(str(self._rng.randrange(10)) for _ in range(15 - len(prefix)))
            if candidate not in self.accounts and candidate not in self.campaigns and candidate not in self.pixels:
                return candidate

    def _build(self) -> None:
        origin = self.clock.now() - self.config.history_days * 86400
        profiles = self.config.profiles or _PROFILES
        for index in range(self.config.accounts):
            currency, tz = profiles[index % len(profiles)]
            account = Account(self._new_id("10"), f"Label account {index + 1}", currency, tz)
            self.accounts[account.account_id] = account
            for n in range(self.config.campaigns_per_account):
                usd = self._rng.randint(20, 200)
                budget = round(usd * per_usd(currency)) * account.offset
                created = origin + self._rng.uniform(0, 86400 * 3)
                campaign = self._add(
                    account,
                    f"Release push {n + 1}",
                    self._rng.choice(_OBJECTIVES),
                    created,
                    daily_budget=budget,
                    lifetime_budget=None,
                    categories=[],
                )
                if n % 4 == 3:  # every fourth one was paused a week before the start
                    campaign.history.append((created + max(0.0, self.clock.now() - created - 7 * 86400), "PAUSED"))
        for account in self.accounts.values():  # after the campaigns, so adding pixels kept their ids
            self.pixels[self._new_id("13")] = account.account_id

    def _add(
        self,
        account: Account,
        name: str,
        objective: str,
        created: float,
        *,
        daily_budget: int | None,
        lifetime_budget: int | None,
        categories: list[str],
        status: str = "ACTIVE",
    ) -> Campaign:
        campaign = Campaign(
            self._new_id("120"),
            account.account_id,
            name,
            objective,
            categories,
            created,
            created,
            [(created, status)],
            [(created, daily_budget, lifetime_budget)],
        )
        self.campaigns[campaign.id] = campaign
        self._by_account.setdefault(account.account_id, []).append(campaign)
        return campaign

    def create_campaign(
        self,
        account: Account,
        *,
        name: str,
        objective: str,
        status: str,
        daily_budget: int | None,
        lifetime_budget: int | None,
        categories: list[str],
    ) -> Campaign:
        return self._add(
            account,
            name,
            objective,
            self.clock.now(),
            daily_budget=daily_budget,
            lifetime_budget=lifetime_budget,
            categories=categories,
            status=status,
        )

    def update_campaign(
        self,
        campaign: Campaign,
        *,
        status: str | None = None,
        name: str | None = None,
        daily_budget: int | None = None,
        lifetime_budget: int | None = None,
    ) -> None:
        """Apply a write from now on. A budget of one kind replaces the other: a campaign has one budget
        (whether Meta lets a published campaign switch kinds is UNVERIFIED; we let it, so that our own
        lifetime budget can be pushed to a campaign made with a daily one)."""
        now = self.clock.now()
        if status is not None and status != campaign.status:
            campaign.history.append((now, status))
        if daily_budget is not None or lifetime_budget is not None:
            changed = (now, daily_budget, lifetime_budget)
            if changed[1:] != (campaign.daily_budget, campaign.lifetime_budget):
                campaign.budgets.append(changed)
        campaign.name = name if name is not None else campaign.name
        campaign.updated_time = now

    def campaigns_of(self, account: Account) -> list[Campaign]:
        return [c for c in self._by_account.get(account.account_id, ()) if c.status != "DELETED"]

    # ---- time in the account's timezone -------------------------------------------------------

    def local_date(self, account: Account, moment: float | None = None) -> date:
        return datetime.fromtimestamp(self.clock.now() if moment is None else moment, account.tz).date()

    def _day_bounds(self, account: Account, day: date) -> tuple[float, float]:
        start = datetime(day.year, day.month, day.day, tzinfo=account.tz)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=account.tz)
        return start.timestamp(), end.timestamp()

    # ---- ground truth ----------------------------------------------------------------------------

    def _cpm(self, account: Account) -> float:
        return 800 * per_usd(account.currency) * account.offset / 100  # minor units per mille

    def _spend(self, campaign: Campaign, account: Account, day: date, draws: DayDraws | None = None) -> int:
        """What ``campaign`` delivered on ``day`` as of now, before any restatement (``delivery``)."""
        pacing = (draws or day_draws(self.config.seed, campaign.id, day.isoformat())).pacing
        spent_before = self._spent_before(campaign, account, day) if self._has_lifetime(campaign) else 0
        return day_spend(campaign.history, campaign.budgets, self._day_bounds(account, day), self.clock.now(),
                         pacing, spent_before)

    @staticmethod
    def _has_lifetime(campaign: Campaign) -> bool:
        return any(lifetime is not None for _, _, lifetime in campaign.budgets)

    def _spent_before(self, campaign: Campaign, account: Account, day: date) -> int:
        """The campaign's delivered spend on its days before ``day``; a day that is over never changes, and
        days end in order, so the running total of the days over is kept once computed."""
        first, now = self.local_date(account, campaign.created_time), self.clock.now()
        sums = self._settled.setdefault(campaign.id, [0])  # sums[n]: what its first n days delivered
        wanted = max(0, (day - first).days)
        while len(sums) <= wanted:
            each = first + timedelta(days=len(sums) - 1)
            if self._day_bounds(account, each)[1] > now:
                break
            sums.append(sums[-1] + self._spend(campaign, account, each))
        total = sums[min(wanted, len(sums) - 1)]
        for offset in range(len(sums) - 1, wanted):  # days not over yet
            total += self._spend(campaign, account, first + timedelta(days=offset))
        return total

    def spent(self, campaign: Campaign) -> int:
        """Everything ``campaign`` delivered up to now, in minor units (what a lifetime budget counts)."""
        account = self.accounts[campaign.account_id]
        today = self.local_date(account)
        return self._spent_before(campaign, account, today) + self._spend(campaign, account, today)

    def day_metrics(self, campaign: Campaign, day: date) -> DayMetrics:
        """What ``campaign`` delivered on the local ``day`` of its account, as of now."""
        account = self.accounts[campaign.account_id]
        draws = day_draws(self.config.seed, campaign.id, day.isoformat())
        spend = self._spend(campaign, account, day, draws)
        if spend <= 0:
            return DayMetrics(0, 0, 0)
        metrics = from_spend(spend, self._cpm(account), draws)
        factor = restatement_factor(
            self.config.seed,
            campaign.id,
            day.toordinal(),
            self.local_date(account).toordinal(),
            self.config.faults.restatement_rate,
        )
        return metrics if factor == 1.0 else metrics.scaled(factor)

    def truth(self, campaign_id: str, day: date, breakdowns: tuple[str, ...] = ()) -> dict[tuple[str, ...], DayMetrics]:
        """The ground truth for tests: the campaign's numbers on ``day``, split by ``breakdowns``."""
        campaign = self.campaigns[campaign_id]
        return split(self.config.seed, campaign.id, self.day_metrics(campaign, day), breakdowns)

    def amount_spent(self, account: Account) -> int:
        """Lifetime spend of the account in minor units, as of now: what its campaigns delivered (``spent``:
        the days that are over are kept once computed, so listing many accounts stays cheap). Restatements
        change the figures reported for a day, not what was spent."""
        return sum(self.spent(campaign) for campaign in self.campaigns_of(account))
