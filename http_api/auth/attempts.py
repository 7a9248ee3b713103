"""The brute-force limit on the auth routes: at most ``[auth] attempts`` per ``[auth] attempt_window``
seconds, counted per client IP and per email, each in its own bucket, on a sliding window (per-minute
counter rows in PostgreSQL, shared by every API process).

What counts depends on the route. Where a secret is checked (login, register, a reset or invitation
token), only failures count, and a success clears that email's failures: a team behind one office
address logging in all day never meets the limit, while guessing does. Where every request has an effect
that we must bound (an email sent, whether an account exists), every request counts, in buckets of its
own, so asking for a reset link never locks anyone out of logging in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from quart import request

from engine.store.accounts import clear_counter, hit_counter, recent_counts
from http_api.errors import ApiError
from http_api.quotas import BUCKET, Verdict, sliding_verdict, window_start
from http_api.routing import Call

__all__ = ["limit_failures", "limit_requests"]

# What a wrong secret or token answers; anything else (a malformed body, a 5xx) says nothing about guessing.
_FAILED = frozenset({400, 401, 409})


@asynccontextmanager
async def limit_failures(call: Call, email: str | None) -> AsyncIterator[None]:
    """Run the block unless the client IP or ``email`` has used up its failures (429).

    An ApiError 400, 401 or 409 leaving the block counts one failure against both; leaving it cleanly
    clears the email's failures. The response carries the tighter bucket's X-RateLimit-* headers.
    """
    keys = _keys("failed", email)
    await _refuse_when_spent(call, keys)
    try:
        yield
    except ApiError as err:
        if err.status in _FAILED:
            await _count(call, keys)
        raise
    if email:
        await clear_counter(call.db, keys[-1])
        await _tightest(call, keys[:1])  # the headers now show the IP's bucket alone


async def limit_requests(call: Call, email: str | None) -> None:
    """Count this request against the client IP and ``email``; 429 once either has used up its budget."""
    keys = _keys("asked", email)
    await _refuse_when_spent(call, keys)
    await _count(call, keys)


def _keys(kind: str, email: str | None) -> list[str]:
    """The client IP's bucket, then the email's."""
    keys = [f"auth:{kind}:ip:{request.remote_addr or 'unknown'}"]
    return [*keys, f"auth:{kind}:email:{email.lower()}"] if email else keys


async def _refuse_when_spent(call: Call, keys: list[str]) -> None:
    tightest = await _tightest(call, keys)
    if tightest.count >= tightest.limit:
        auth = call.ctx.settings.auth
        raise tightest.error(f"too many attempts; at most {auth.attempts} per {auth.attempt_window // 60} minutes")


async def _count(call: Call, keys: list[str]) -> None:
    bucket = window_start(call.ctx.now(), BUCKET)
    for key in keys:
        await hit_counter(call.db, key, bucket)
    await _tightest(call, keys)


async def _tightest(call: Call, keys: list[str]) -> Verdict:
    """The verdict of the bucket closest to its limit; its headers go on the response."""
    auth, now = call.ctx.settings.auth, call.ctx.now()
    since = datetime.fromtimestamp(now - auth.attempt_window, UTC)
    rows = await recent_counts(call.db, keys, since)
    verdicts = [
        sliding_verdict([(start.timestamp(), hits) for k, start, hits in rows if k == key],
                        limit=auth.attempts, window=auth.attempt_window, now=now)
        for key in keys
    ]
    tightest = max(verdicts, key=lambda v: v.count)
    call.headers.update(tightest.headers())
    return tightest
