"""``engine.logs``: asyncpg's pool retries during a database outage make one line per outage, not a traceback
several times a minute."""

from __future__ import annotations

import io
import json
import logging

from engine.logs import _FLOOR_QUIET, _PoolFloorFilter, configure_logging

FLOOR = "Failed to restore the pool connection floor; retrying"  # asyncpg 0.32's pool.py, verbatim


def _floor_failure() -> None:
    try:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
    except ConnectionRefusedError:
        logging.getLogger("asyncpg.pool").warning(FLOOR, exc_info=True)


def test_an_outage_of_asyncpg_pool_retries_is_one_line_without_a_traceback(log_stream: io.StringIO) -> None:
    for _ in range(5):
        _floor_failure()
    logging.getLogger("asyncpg.pool").warning("something else")
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    assert [line["msg"] for line in lines] == [
        "could not restore the pool's connections ([Errno 111] Connect call failed ('127.0.0.1', 5432));"
        " retrying until the database is back",
        "something else",
    ]
    assert "exc" not in lines[0]
    configure_logging("info", "json", log_stream)  # configuring again installs no second filter
    assert sum(isinstance(f, _PoolFloorFilter) for f in logging.getLogger("asyncpg.pool").filters) == 1


def test_a_later_outage_gets_its_own_line() -> None:
    clock = [0.0]
    floor = _PoolFloorFilter(now=lambda: clock[0])

    def passes() -> bool:
        return floor.filter(logging.LogRecord("asyncpg.pool", logging.WARNING, "", 0, FLOOR, None, None))

    assert passes()
    clock[0] += 60  # asyncpg's longest retry delay: the same outage
    assert not passes()
    clock[0] += _FLOOR_QUIET + 1  # nothing for longer than any retry delay: the database came back and went
    assert passes()
