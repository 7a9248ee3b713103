"""Who is acting, for the audit log (docs/audit-log.md): a person, a rule, the engine's guardrail, or an
anonymous caller, with where the change came from. Pure: it holds the context of the current trio task in a
``ContextVar``; ``engine.store.database`` hands it to PostgreSQL, whose triggers write the rows. It decides
nothing about what is recorded (the triggers of migration 0017 do).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal

import msgspec

__all__ = ["GUARDRAIL", "Actor", "ActorType", "AuditContext", "acting_as", "attribute_task", "current_setting",
           "encode"]

ActorType = Literal["user", "rule", "system", "anonymous"]


class Actor(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Who acts: ``user_id`` for a person, ``rule_id`` for a rule; ``label`` is what a reader sees (the user's
    email, the rule's name, "budget guardrail"; empty for an anonymous caller)."""

    type: ActorType
    user_id: uuid.UUID | None = None
    rule_id: uuid.UUID | None = None
    label: str = ""


class AuditContext(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One acting: the actor, the organization it acts in (``None`` before one is known: a sign-up), the
    client's address and request id, and ``source``: the route template (``POST /v1/campaigns``), the
    console form's route, ``rule`` or ``guardrail``."""

    actor: Actor
    source: str
    organization_id: uuid.UUID | None = None
    ip: str | None = None
    request_id: str | None = None


GUARDRAIL = Actor(type="system", label="budget guardrail")

_encoder = msgspec.json.Encoder()
# The context as the JSON the triggers read, encoded once per acting rather than once per transaction.
_acting: ContextVar[str | None] = ContextVar("songtrack_audit", default=None)


def encode(context: AuditContext) -> str:
    """``context`` as the JSON the triggers read from ``songtrack.audit``."""
    return _encoder.encode(context).decode()


@contextmanager
def acting_as(context: AuditContext) -> Iterator[None]:
    """Within the block, every transaction of this task (and of the tasks it starts) is attributed to
    ``context``; the previous attribution is restored on exit."""
    token = _acting.set(encode(context))
    try:
        yield
    finally:
        _acting.reset(token)


def attribute_task(context: AuditContext | None) -> None:
    """Attribute the rest of this task's transactions to ``context`` (``None``: to nobody). For code that
    learns who acts only inside a task that ends with the work: a console form's handler (each request
    runs in a task of its own), or a job started inside a request, whose own writes are the engine's (the
    request that started it is recorded)."""
    _acting.set(None if context is None else encode(context))


def current_setting() -> str | None:
    """The JSON for ``songtrack.audit`` in this task, or ``None`` when nobody is acting (engine work)."""
    return _acting.get()
