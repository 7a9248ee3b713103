"""The Meta Marketing API simulator: a real HTTP server that speaks Graph closely enough to stand in for Meta.

Product code, not a test fake: tests, benchmarks and the sandbox all use it. ``MetaSimulator`` is the
ASGI app; ``serve_meta_simulator`` serves it with hypercorn; ``World.truth`` is the ground truth.
Campaign writes act on delivery from the moment they are made (``delivery``: a pause stops it, budgets
pace and cap it); bad budgets get Meta's refusals (``budgets``); ``FaultConfig`` can refuse writes too.
Not simulated yet: ad sets and ads (so no CAMPAIGN_PAUSED children and no 4-per-hour ad set budget
limit), the 10-per-day spend-cap limit, the abuse 613 without subcode, and Reach throttling.
"""

from __future__ import annotations

from .app import LoggedRequest, MetaSimulator
from .clock import Clock, ManualClock, SimClock
from .config import FaultConfig, SimulatorConfig
from .insights import format_spend
from .metrics import DayMetrics
from .serve import ServedSimulator, serve_meta_simulator
from .world import Account, Campaign, World

__all__ = [
    "Account",
    "Campaign",
    "Clock",
    "DayMetrics",
    "FaultConfig",
    "LoggedRequest",
    "ManualClock",
    "MetaSimulator",
    "ServedSimulator",
    "SimClock",
    "SimulatorConfig",
    "World",
    "format_spend",
    "serve_meta_simulator",
]
