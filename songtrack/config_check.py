"""``songtrack config check``: the effective settings (defaults, the file, the environment and flags, as
``config.resolve`` merges them) with every secret masked and where each value came from, every problem
found, and whether the configured database answers.

It starts nothing and writes nothing: the embedded PostgreSQL is not started and no key is created.
Exit codes: 0 all is well, 2 the configuration has problems, 1 it is valid but the database does not answer
or refuses us.
"""

from __future__ import annotations

import json
from typing import TextIO

import trio

from config import ConfigProblem, Resolved, Settings, Value, data_path
from config.schema import masked
from engine.store.database import describe_dsn, open_database
from engine.store.errors import DatabaseRefused, StoreUnavailable
from engine.store.migrate import discover, pending_migrations

__all__ = ["check_config"]

_KEY_FILES = ("jwt-signing.key", "token-encryption.key")  # config/keys.py's names
_PROBE_TIMEOUT = 10.0  # seconds: a firewall that drops packets would otherwise hold us for asyncpg's 60


def check_config(resolved: Resolved, out: TextIO) -> int:
    """Print the report on ``out`` and return the exit code (see the module's docstring)."""
    print("# songtrack config check: the effective settings, secrets masked; each comment says where the value"
          " came from", file=out)
    _print_values(resolved.values, out)
    problems = list(resolved.problems)
    if resolved.settings is not None:
        print(f"\n# keys: {_keys_line(resolved.settings)}", file=out)
        database, refused = trio.run(_database_line, resolved.settings)
        print(f"# database: {database}", file=out)
        problems += refused
    print(f"\n# problems: {len(problems) or 'none'}", file=out)
    for problem in problems:
        print(f"#   {problem.field}: {problem.message}", file=out)
    if resolved.problems:
        return 2
    return 1 if problems else 0


def _print_values(values: dict[str, Value], out: TextIO) -> None:
    section: str | None = None
    for key, value in values.items():
        head, _, name = key.rpartition(".")
        if head and head != section:
            section = head
            print(f"\n[{section}]", file=out)
        if not value.valid:
            print(f"# {name}: invalid (see the problems below)", file=out)
        elif value.value is None:
            print(f"# {name} is not set  ({value.origin})", file=out)
        else:
            print(f"{name} = {_toml(masked(value.value, secret=value.secret))}  # {value.origin}", file=out)


def _toml(value: object) -> str:
    """A TOML literal for a setting's value (strings, numbers, booleans, lists and string tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value, ensure_ascii=False)


def _keys_line(settings: Settings) -> str:
    key_dir = data_path(settings) / "keys"
    present = [name for name in _KEY_FILES if (key_dir / name).is_file()]
    if len(present) == len(_KEY_FILES):
        return f"{', '.join(present)} in {key_dir} (back them up with the database)"
    missing = ", ".join(name for name in _KEY_FILES if name not in present)
    return f"{missing} not in {key_dir} yet: created at the first start"


async def _database_line(settings: Settings) -> tuple[str, list[ConfigProblem]]:
    """What the configured database says, and the problem if it does not answer or refuses us."""
    url = settings.database.url
    if url is None:
        root = data_path(settings) / "postgres"
        return f"the embedded PostgreSQL in {root} (not started by this check)", []
    where = describe_dsn(url)
    try:
        with trio.fail_after(_PROBE_TIMEOUT):
            async with open_database(url, min_size=1, max_size=1) as db:
                pending = await pending_migrations(db)
    except trio.TooSlowError:
        return f"{where} did not answer", [ConfigProblem("database", f"{where} did not answer within "
                                                                     f"{_PROBE_TIMEOUT:.0f} s")]
    except (StoreUnavailable, DatabaseRefused) as exc:
        return f"{where} cannot be used", [ConfigProblem("database", str(exc))]
    shipped = len(discover())
    state = (f"{len(pending)} of {shipped} migrations pending (applied at the next start of songtrack run,"
             " or by songtrack migrate)" if pending else f"all {shipped} migrations applied")
    return f"{where} answers; {state}", []
