"""Who called for which ad account, and when: the simulator's caller log, served on the dev route
``GET /__simulator/callers`` (outside the Graph API's paths, as ``/__simulator/requests`` is).

It owns the log only; ``app`` records each authenticated call routed to an ad account. A caller is the
pair (``User-Agent``, token fingerprint): several engine processes sharing the accounts each send their
own User-Agent, so a test can tell which process polled which account when, and whether two ever did at
once. Consecutive calls of one caller for one account are kept as one run (first and last call, count),
so the log grows with the hand-overs, not with the calls. Tokens are never served, only the first 12 hex
digits of their SHA-256.
"""

from __future__ import annotations

import hashlib

import msgspec

__all__ = ["CallerLog", "CallerRun", "token_fingerprint"]


def token_fingerprint(token: str) -> str:
    """What the log shows of an access token: enough to tell tokens apart, nothing to call with."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


class CallerRun(msgspec.Struct, kw_only=True):
    """Calls in a row for one ad account by one caller: from ``first`` to ``last`` (simulated Unix seconds)."""

    user_agent: str
    token: str  # token_fingerprint
    first: float
    last: float
    calls: int = 1


class CallerLog:
    """Every ad account's runs of calls, in the order they came."""

    def __init__(self) -> None:
        self.runs: dict[str, list[CallerRun]] = {}

    def record(self, account_id: str, user_agent: str, token: str, at: float) -> None:
        """One call for ``account_id`` (digits) by ``user_agent`` holding ``token``, at ``at``."""
        runs = self.runs.setdefault(account_id, [])
        fingerprint = token_fingerprint(token)
        last = runs[-1] if runs else None
        if last is not None and last.user_agent == user_agent and last.token == fingerprint:
            last.last, last.calls = at, last.calls + 1
        else:
            runs.append(CallerRun(user_agent=user_agent, token=fingerprint, first=at, last=at))

    def as_json(self) -> dict[str, object]:
        """The dev route's body: ``{"data": [{"account_id": "act_<digits>", "runs": [...]}, ...]}``."""
        return {"data": [{"account_id": f"act_{account}", "runs": msgspec.to_builtins(runs)}
                         for account, runs in self.runs.items()]}
