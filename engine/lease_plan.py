"""What an engine process does with its leases at each renewal: pure arithmetic on what it holds, what
there is, and how many engine processes are alive. No trio, no clock, no database, so every property is
checked with hypothesis (tests/engine/test_lease_plan.py).

The protocol (docs/scaling.md): every account actor runs under a lease row named as the actor is
(``meta:<integration id>``), claimed with a fencing token that grows on every claim. Each process keeps a
fair share, ``ceil(accounts / live processes)``: a process that joins finds accounts free as the others
release what they hold above the new share; a process that leaves (its leases released, or expired) leaves
them free for the others, whose share grew. Renewals come every ``renew_every`` seconds, a third of the TTL
by default (River and Payload renew about three times per TTL); a process that could not renew for
``ttl - renew_every`` seconds stops its actors, so they have stopped before another process can claim.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import msgspec

__all__ = ["Lease", "LeasePlan", "LeaseTimings", "fair_share", "plan_leases"]


class Lease(msgspec.Struct, frozen=True):
    """A held lease as an actor carries it: its ``name`` (the actor's own) and the fencing ``token`` it was
    claimed with, which every write made under it is checked against."""

    name: str
    token: int


@dataclass(frozen=True)
class LeaseTimings:
    """How long a claim lasts and how often it is renewed, in seconds."""

    ttl: float = 30.0
    renew_every: float = 10.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.ttl) and math.isfinite(self.renew_every) and 0 < self.renew_every < self.ttl):
            raise ValueError(f"need 0 < renew_every < ttl, got renew_every={self.renew_every!r}, ttl={self.ttl!r}")

    @property
    def give_up_after(self) -> float:
        """Seconds without a successful renewal after which a process stops its actors: one renewal interval
        before the lease can expire, so an actor never outlives its lease (our clock and the database's run
        at the same rate; only their origins differ, and both count from the last renewal)."""
        return self.ttl - self.renew_every


def fair_share(accounts: int, processes: int) -> int:
    """The most accounts one of ``processes`` live engine processes should hold: every account fits, and no
    process holds more than one above another's share."""
    if accounts < 0 or processes < 0:
        raise ValueError(f"counts cannot be negative: accounts={accounts}, processes={processes}")
    return math.ceil(accounts / max(processes, 1))


@dataclass(frozen=True)
class LeasePlan:
    """``claim`` more leases among the free ones (a count: the store picks which are free), and ``release``
    these held ones."""

    claim: int
    release: tuple[str, ...]


def plan_leases(held: Collection[str], wanted: Sequence[str], processes: int) -> LeasePlan:
    """The plan for a process holding ``held`` when ``wanted`` are the accounts that should run (every
    process's) and ``processes`` engine processes are alive (this one included).

    A held lease no longer wanted (the account was disconnected) is released; past the fair share the
    excess is released, the last names first (sorted: the choice is stable, so two renewals never
    release and re-claim the same account back and forth); below it the difference is claimed.
    """
    wanted_set = set(wanted)
    share = fair_share(len(wanted_set), processes)
    stale = sorted(name for name in held if name not in wanted_set)
    keep = sorted(name for name in held if name in wanted_set)
    excess = keep[share:]
    return LeasePlan(claim=max(share - len(keep), 0), release=tuple(stale + excess))
