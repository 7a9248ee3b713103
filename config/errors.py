"""What loading settings raises: one ConfigError carrying every ConfigProblem found.

Error tree::

    ConfigError(problems)         any number of ConfigProblem(field, message), reported together

Key files have their own error, ``config.keys.KeyFileError``: it is raised later, by other code.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

__all__ = ["ConfigError", "ConfigProblem"]


class ConfigProblem(msgspec.Struct, frozen=True):
    """One thing wrong with the configuration.

    ``field`` names the setting the way the user wrote it (``SONGTRACK_SERVER_PORT``,
    ``server.port (config.toml)``, a file path), so they can find and fix it.
    """

    field: str
    message: str


class ConfigError(Exception):
    """The configuration is invalid; ``problems`` lists everything wrong, one entry per field."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems = list(problems)
        lines = (f"  {problem.field}: {problem.message}" for problem in self.problems)
        super().__init__("invalid configuration:\n" + "\n".join(lines))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[ConfigProblem]]]:
        # The default reduce would call ConfigError(message), which is not a list of problems.
        return (ConfigError, (self.problems,))
