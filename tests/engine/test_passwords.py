"""``engine.passwords``: argon2id hashing in worker threads.

Rules: argon2 is slow on purpose (about 0.15 s per operation), so property tests keep ``max_examples``
small and have no hypothesis deadline; no database, real time.
"""

from __future__ import annotations

import time

import argon2
import pytest
import trio
import trio.testing
from argon2.exceptions import InvalidHashError
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import passwords
from engine.passwords import burn_verify, hash_password, needs_rehash, verify_password

_SLOW = settings(max_examples=3, deadline=None)


@_SLOW
@given(password=st.text(max_size=64))
async def test_a_hash_verifies_its_password_and_nothing_else(password: str) -> None:
    stored = await hash_password(password)
    assert stored.startswith("$argon2id$")
    assert await verify_password(stored, password)
    assert not await verify_password(stored, password + "x")


async def test_hashes_are_salted_and_current() -> None:
    first, second = await hash_password("hunter2"), await hash_password("hunter2")
    assert first != second
    assert not needs_rehash(first)


async def test_a_hash_with_weaker_parameters_needs_a_rehash() -> None:
    weak = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("hunter2")
    assert needs_rehash(weak)
    assert await verify_password(weak, "hunter2")  # old hashes keep working until they are upgraded


async def test_a_corrupt_hash_is_loud() -> None:
    with pytest.raises(InvalidHashError):
        await verify_password("not a hash", "hunter2")


async def test_burn_verify_costs_about_one_verification() -> None:
    await burn_verify()  # the first call also computes the dummy hash
    stored = passwords._dummy_hash
    assert stored is not None and stored.startswith("$argon2id$") and not needs_rehash(stored)
    # Our process's CPU time, not the wall clock: other processes on a busy CI machine do not count in it,
    # and argon2's memory-hard work does, whichever thread runs it.
    start = time.process_time()
    await verify_password(stored, "wrong")
    real = time.process_time() - start
    start = time.process_time()
    await burn_verify()
    burned = time.process_time() - start
    assert burned > real / 3  # a no-op would be ~1000x cheaper


async def test_concurrent_hashing_is_limited_to_two_threads() -> None:
    async with trio.open_nursery() as nursery:
        for i in range(5):
            nursery.start_soon(hash_password, f"p{i}")
        await trio.testing.wait_all_tasks_blocked()
        stats = passwords._limiter().statistics()
        assert (stats.borrowed_tokens, stats.tasks_waiting) == (2, 3)
        nursery.cancel_scope.cancel()  # the waiting three give up at once; the running two finish
