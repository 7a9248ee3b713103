"""Meta's rate limiters as a pure model on the simulated clock (PROVIDERS.md A4).

It owns the per-(ad account, BUC type) rolling-hour counters, the ad-account score limiter, the app's
hourly call count, and the usage headers they produce. It decides *whether* a call is throttled and with
which code; turning that into an HTTP answer is ``app``'s job. Every call counts, including calls that
are refused: Meta warns that calling while blocked "will continue to increase your call count", so a
client that keeps knocking keeps itself blocked.
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from .config import SimulatorConfig

__all__ = ["BucType", "QuotaModel", "Throttle"]

BucType = Literal["ads_management", "ads_insights", "custom_audience"]
_HOUR = 3600.0
_DECAY_S = 300.0
_MUTATIONS_PER_S = 100
_RATE_LIMIT_URL = "https://developers.facebook.com/docs/graph-api/overview/rate-limiting."
_BUC_ERRORS: dict[str, tuple[int, str]] = {
    "ads_management": (80004, "There have been too many calls to this ad-account."),
    "ads_insights": (80000, "There have been too many calls from this ad-account."),
    "custom_audience": (80003, "There have been too many calls for this custom audience."),
}


@dataclass(frozen=True, slots=True)
class Throttle:
    """A refusal: the Graph error the call gets (HTTP 400, type OAuthException)."""

    code: int
    subcode: int | None
    message: str
    www_authenticate: str | None = None


@dataclass(slots=True)
class _Score:
    score: float = 0.0
    at: float = 0.0
    blocked_until: float = 0.0


@dataclass(slots=True)
class _Account:
    score: _Score = field(default_factory=_Score)
    calls: dict[str, deque[float]] = field(default_factory=dict)
    user_errors: int = 0
    mutations: deque[float] = field(default_factory=deque)


class QuotaModel:
    """The limiters of one app. ``charge`` records a call and says whether Meta would refuse it."""

    def __init__(self, config: SimulatorConfig) -> None:
        self._config = config
        self._dev = config.tier == "development_access"
        self._max_score = 60.0 if self._dev else 9000.0
        self._block_s = 300.0 if self._dev else 60.0
        self._accounts: dict[str, _Account] = {}
        self._app_calls: deque[float] = deque()
        self._insights_load: deque[float] = deque()  # the app's insights calls in the last second

    def quota(self, account_id: str, buc: BucType) -> int:
        """Calls per rolling hour for (account, BUC type) under the configured tier."""
        ads = self._config.active_ads
        if buc == "ads_management":
            return (300 if self._dev else 100_000) + 40 * ads
        if buc == "ads_insights":
            errors = self._account(account_id).user_errors
            # ceil: 1,000 user errors cost one call; floor would make the very first error cost one.
            return math.ceil((600 if self._dev else 190_000) + 400 * ads - 0.001 * errors)
        return min(700_000, (5_000 if self._dev else 190_000) + 40 * ads)

    def _account(self, account_id: str) -> _Account:
        return self._accounts.setdefault(account_id, _Account())

    def record_user_error(self, account_id: str) -> None:
        """A 4xx that was the caller's fault; it lowers the ads_insights quota by 0.001 per error."""
        self._account(account_id).user_errors += 1

    def charge_app(self, now: float) -> Throttle | None:
        """Count one call against the app; refuse it (code 4) once the hour's allowance is used up."""
        _prune(self._app_calls, now)
        self._app_calls.append(now)
        if len(self._app_calls) > self._config.app_calls_per_hour:
            message = "(#4) Application request limit reached"
            return Throttle(4, None, message, f'OAuth "Facebook Platform" "invalid_request" "{message}"')
        return None

    def charge_insights_load(self, now: float) -> Throttle | None:
        """Count one insights call against the app's backend capacity (calls per second); 4/1504022 past it."""
        _prune(self._insights_load, now, 1.0)
        self._insights_load.append(now)
        if len(self._insights_load) > self._config.insights_app_calls_per_s:
            return Throttle(4, 1504022, "(#4) There have been too many calls from this app. Wait a bit and try again.")
        return None

    def charge(
        self, account_id: str, buc: BucType, *, write: bool, now: float, mutation: bool = False
    ) -> Throttle | None:
        """Count one call of ``account_id``; None if allowed, else the first refusal that applies.

        Counted: the score (read 1, write 3), the BUC counter, and for creates and edits (``mutation``)
        the per-second mutation rate. Precedence: score block (17), BUC (800xx), mutation QPS (613).
        """
        state = self._account(account_id)
        calls = state.calls.setdefault(buc, deque())
        _prune(calls, now)
        over_buc = len(calls) >= self.quota(account_id, buc)
        calls.append(now)
        too_fast = mutation and self._charge_mutation(state, now)
        blocked = self._charge_score(state.score, 3.0 if write else 1.0, now)
        if blocked:
            return Throttle(17, 2446079, "(#17) User request limit reached")
        if over_buc:
            code, text = _BUC_ERRORS[buc]
            return Throttle(
                code,
                2446079,
                f"(#{code}) {text} Wait a bit and try again. For more info, please refer to {_RATE_LIMIT_URL}",
            )
        if too_fast:
            return Throttle(
                613,
                5044001,
                f"(#613) Your ad account {account_id} has exceeded the maximum allowed rate of mutation requests. "
                "Please wait a bit and try again.",
            )
        return None

    def _charge_mutation(self, state: _Account, now: float) -> bool:
        """Count one create/edit; True when more than 100 fell within the last second (PROVIDERS.md A4)."""
        recent = state.mutations
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        recent.append(now)
        return len(recent) > _MUTATIONS_PER_S

    def _charge_score(self, score: _Score, cost: float, now: float) -> bool:
        rate = self._max_score / _DECAY_S
        score.score, score.at = max(0.0, score.score - (now - score.at) * rate), now
        if now < score.blocked_until or score.score + cost > self._max_score:
            score.score = min(self._max_score, score.score + cost)
            score.blocked_until = now + self._block_s  # a call while blocked restarts the block
            return True
        score.score += cost
        return False

    # ---- headers -----------------------------------------------------------------------------------

    def _buc_pct(self, account_id: str, buc: BucType, now: float) -> float:
        calls = self._account(account_id).calls.get(buc, deque())
        _prune(calls, now)
        return 100.0 * len(calls) / max(1, self.quota(account_id, buc))

    def _regain_minutes(self, account_id: str, buc: BucType, now: float) -> int:
        calls, quota = self._account(account_id).calls.get(buc, deque()), self.quota(account_id, buc)
        if len(calls) < quota:
            return 0
        return math.ceil((calls[len(calls) - quota] + _HOUR - now) / 60.0)

    def app_headers(self, now: float) -> list[tuple[str, str]]:
        _prune(self._app_calls, now)
        pct = int(100 * len(self._app_calls) / self._config.app_calls_per_hour)
        usage = {"call_count": pct, "total_time": pct * 7 // 10, "total_cputime": pct * 6 // 10}
        return [("x-app-usage", _dumps(usage))]

    def account_headers(self, account_id: str, buc: BucType, now: float, *, insights: bool) -> list[tuple[str, str]]:
        """X-Ad-Account-Usage always; X-Business-Use-Case-Usage past the threshold; insights throttle if asked."""
        score, tier = self._account(account_id).score, self._config.tier
        current = max(0.0, score.score - (now - score.at) * self._max_score / _DECAY_S)
        reset = max(current * _DECAY_S / self._max_score, score.blocked_until - now, 0.0)
        headers = [
            (
                "x-ad-account-usage",
                _dumps(
                    {
                        "acc_id_util_pct": round(100.0 * current / self._max_score, 2),
                        "reset_time_duration": math.ceil(reset),
                        "ads_api_access_tier": tier,
                    }
                ),
            )
        ]
        pct, regain = self._buc_pct(account_id, buc, now), self._regain_minutes(account_id, buc, now)
        if pct >= self._config.usage_header_threshold_pct or regain > 0:
            entry: dict[str, object] = {
                "type": buc,
                "call_count": int(pct),
                "total_cputime": int(pct * 0.6),
                "total_time": int(pct * 0.7),
                "estimated_time_to_regain_access": regain,
            }
            if buc != "custom_audience":
                entry["ads_api_access_tier"] = tier
            headers.append(("x-business-use-case-usage", _dumps({account_id: [entry]})))
        if insights:
            _prune(self._insights_load, now, 1.0)
            load = len(self._insights_load) / self._config.insights_app_calls_per_s
            app_pct = min(100.0, 100.0 * max(load, len(self._app_calls) / self._config.app_calls_per_hour))
            acc_pct = min(100.0, self._buc_pct(account_id, "ads_insights", now))
            headers.append(
                (
                    "x-fb-ads-insights-throttle",
                    _dumps(
                        {
                            "app_id_util_pct": round(app_pct, 2),
                            "acc_id_util_pct": round(acc_pct, 2),
                            "ads_api_access_tier": tier,
                        }
                    ),
                )
            )
        return headers


def _prune(calls: deque[float], now: float, window: float = _HOUR) -> None:
    while calls and calls[0] <= now - window:
        calls.popleft()


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))
