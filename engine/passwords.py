"""Password hashing with argon2id, kept off the trio event loop.

It owns the hashing parameters and the thread budget for hashing; it does not decide password rules
(length, strength) nor rate-limit logins, which belong to the HTTP layer.

Each hash or verification costs on purpose tens of milliseconds of CPU and 19 MiB of memory, so it
runs in a worker thread, and at most ``_THREADS`` of them run at once: a burst of logins then
queues here instead of spawning threads (and allocating memory) without bound.
"""

from __future__ import annotations

import argon2
import trio
from argon2.exceptions import VerificationError

__all__ = ["burn_verify", "hash_password", "needs_rehash", "verify_password"]

# OWASP's first recommended argon2id configuration: m=19 MiB, t=2, p=1. We measured RFC 9106's
# low-memory profile (t=3, m=64 MiB, p=4) at about 6 logins/s on two cores (bench/api.py), which makes
# the login route itself the cheapest denial of service; OWASP's profile is several times cheaper and
# still memory-hard. Named here so that a library upgrade cannot change it silently; needs_rehash()
# lets the login path upgrade stored hashes when we change it.
_HASHER = argon2.PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16,
                                type=argon2.Type.ID)

# Two threads keep two cores busy at most, and bound memory to about 40 MiB during a login storm.
_THREADS = 2
_LIMITER: trio.lowlevel.RunVar[trio.CapacityLimiter] = trio.lowlevel.RunVar("password_limiter")

# A hash with the same parameters as real ones, computed on first use (not at import, which would slow
# every process start) and verified against when the email is unknown.
_dummy_hash: str | None = None


def _limiter() -> trio.CapacityLimiter:
    # A RunVar, as trio's own default thread limiter: a limiter belongs to one trio.run.
    try:
        return _LIMITER.get()
    except LookupError:
        limiter = trio.CapacityLimiter(_THREADS)
        _LIMITER.set(limiter)
        return limiter


async def hash_password(password: str) -> str:
    """The argon2id hash of ``password``, a ``$argon2id$...`` string with its own random salt."""
    return await trio.to_thread.run_sync(_HASHER.hash, password, limiter=_limiter())


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except VerificationError:  # includes VerifyMismatchError, the usual wrong password
        return False


async def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``.

    Error handling: a wrong password returns False; a stored hash that is not an argon2 hash at all
    raises ``argon2.exceptions.InvalidHashError`` (corrupt data is a bug, and must be loud).
    """
    return await trio.to_thread.run_sync(_verify, password_hash, password, limiter=_limiter())


def needs_rehash(password_hash: str) -> bool:
    """Whether ``password_hash`` was made with other parameters than ours; after a successful login the
    caller then stores ``await hash_password(password)`` instead. Cheap: it only parses the string."""
    return _HASHER.check_needs_rehash(password_hash)


async def burn_verify() -> None:
    """Spend the time of one verification, for a login with an unknown email: the response then takes
    as long as a wrong password does, so its timing does not reveal which emails have accounts."""
    global _dummy_hash
    if _dummy_hash is None:
        # Two tasks may both compute it the first time; the result is equivalent, and that is harmless.
        _dummy_hash = await hash_password("an unused password")
    await verify_password(_dummy_hash, "not the password")
