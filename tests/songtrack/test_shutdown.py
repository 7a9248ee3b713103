"""songtrack.shutdown.watch_signals: the first signal drains, a different or later one stops at once, and the
same signal repeated within the window (a parent forwarding it to its group, as make does) is the same
request.

Rules: signals are fed through a memory channel standing in for trio's signal receiver; trio time is the
autojump MockClock, and every test runs under ``fail_after`` on it.
"""

from __future__ import annotations

import signal

import trio

from songtrack.shutdown import REPEAT_WINDOW, Shutdown, watch_signals

GRACE = 10.0


async def _watched(*sent: tuple[float, signal.Signals]) -> tuple[Shutdown, float]:
    """Send each signal at its trio time; returns the shutdown and when the watched scope ended."""
    shutdown = Shutdown()
    send, receive = trio.open_memory_channel[int](0)
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_signals, receive, shutdown, nursery.cancel_scope, GRACE)
            for at, signum in sent:
                await trio.sleep_until(at)
                await send.send(signum)
            await trio.sleep_forever()
    return shutdown, trio.current_time()


async def test_a_first_signal_drains_until_the_grace_deadline(autojump_clock: trio.abc.Clock) -> None:
    shutdown, ended = await _watched((1.0, signal.SIGTERM))
    assert shutdown.reason == "SIGTERM"
    assert ended == 1.0 + GRACE


async def test_the_same_signal_forwarded_within_the_window_still_drains(autojump_clock: trio.abc.Clock) -> None:
    shutdown, ended = await _watched((1.0, signal.SIGTERM), (1.001, signal.SIGTERM))
    assert shutdown.reason == "SIGTERM"
    assert ended == 1.0 + GRACE


async def test_the_same_signal_after_the_window_stops_at_once(autojump_clock: trio.abc.Clock) -> None:
    later = 1.0 + REPEAT_WINDOW + 0.5
    _, ended = await _watched((1.0, signal.SIGINT), (1.2, signal.SIGINT), (later, signal.SIGINT))
    assert ended == later


async def test_another_signal_stops_at_once_even_within_the_window(autojump_clock: trio.abc.Clock) -> None:
    _, ended = await _watched((1.0, signal.SIGINT), (1.1, signal.SIGTERM))
    assert ended == 1.1
