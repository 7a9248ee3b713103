"""Which settings are secret, and how ``config.schema.masked`` shows values: a field whose name says it holds a
credential must be marked secret (``Meta(extra={"secret": True})``), so ``songtrack config check`` and the error
messages never show it; a URL keeps what locates the server and loses its credentials.
"""

from __future__ import annotations

import re

import pytest

from config import Settings
from config.schema import flatten, masked

_CREDENTIAL_NAME = re.compile(r"(password|secret|token|api_key|credentials?)$|^(database\.)?url$")


def test_every_setting_named_like_a_credential_is_marked_secret() -> None:
    specs = flatten(Settings)
    named = {key for key in specs if _CREDENTIAL_NAME.search(key.rpartition(".")[2]) or key == "database.url"}
    assert {"database.url", "email.smtp_password", "meta.app_secret"} <= named
    assert {key for key in named if not specs[key].secret} == set()


@pytest.mark.parametrize(("value", "shown"), [
    ("postgresql://app:pw@db.example:5432/songtrack?sslmode=require",
     "postgresql://app:********@db.example:5432/songtrack?sslmode=require"),
    ("postgresql://app@/songtrack?host=/run/postgresql&password=pw&sslpassword=pw2",
     "postgresql://app@/songtrack?host=/run/postgresql&password=********&sslpassword=********"),
    ("postgres://app:pw@[::1]/x#pw", "postgres://app:********@[::1]/x"),
    ("postgresql://app:pw@db:99999/x", "********"),  # cannot be taken apart: nothing of it is shown
    ("plain-secret", "********"),
])
def test_a_secret_is_masked_and_a_url_keeps_where_it_points(value: str, shown: str) -> None:
    assert masked(value, secret=True) == shown


def test_a_url_that_is_not_secret_still_loses_its_password() -> None:
    assert masked("https://user:pw@hooks.example/in?token=t&x=1", secret=False) == \
        "https://user:********@hooks.example/in?token=********&x=1"
    assert masked("https://hooks.example/in", secret=False) == "https://hooks.example/in"
    assert masked(3000, secret=False) == 3000 and masked(None, secret=True) is None
