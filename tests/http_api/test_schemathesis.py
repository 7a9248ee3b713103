"""schemathesis fuzzes every operation of our OpenAPI document against the real
server (hypercorn, real HTTP, a real database) and checks that nothing answers
5xx and that every response matches what the document declares: status code,
content type, headers and body schema.

Left out of the run, and why:
- logout and logout-all end the fuzzer's own session, so every later call would
  be a 401 and the run would test nothing; test_auth.py covers both;
- PATCH /v1/organization could drop the fuzzing organization to the free tier's
  100 requests/hour; test_organizations.py covers it.

positive_data_acceptance holds the document to what the validators take: a
request the schema allows is not refused with 400 or 422, except for the rules
listed in UNSAYABLE, which JSON Schema cannot express.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import schemathesis
import trio
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.openapi.checks import RejectedPositiveData

from config import load
from engine.store.database import open_database
from tests.conftest import TEMPLATE_DATABASE
from tests.helpers.live_api import LiveApi, serve_in_thread

_PERIOD = r"endDate: (endDate must not be before startDate|a period may span at most \d+ days)"
_CAMPAIGN = [r"endDate: must be after startDate", r"goals: at most one goal per metric"]
_EVENT_AGE = r"eventTime: .*event_time \d+ is (more than \d+ days old|in the future)"
# across fields: an event whose actionSource is "website" needs its eventSourceUrl (Meta's rule)
_WEBSITE_EVENT = r"eventSourceUrl: .*website events need event_source_url"
_OAUTH_CALLBACK = [r"state: unknown, expired or already used", r"code: missing", r"error: "]
_WEBHOOK_URL = r"url: (.* is not a public address|not a valid URL: .* does not appear to be an IPv4 or IPv6 address)"
# A rule's members across each other (a value that suits its field and operator, an action's config, condition
# or conditions) and ids of the caller's organization: parse_spec's faults, answered 422 (http_api.rules).
_RULE = [r"(condition|conditions)(\[\d+\])?(\.[\w.\[\]]+)?: ", r"action\.(type|config)(\.\w+)?: ",
         r"appliesTo\.(campaigns|tracks)\[\d+\]: no such campaign or track in your organization"]
_PREVIEW = [r"campaignIds\[\d+\]: no such campaign in your organization",
            r"endDate: (must not be before startDate|a period may span at most \d+ days)"]

# The 400s (and 422s) a schema-valid request may still get, as regular expressions over "field: message" (the <title>
# of an HTML page), by operation, and why the schema cannot say the rule. Any other 400 fails the check.
UNSAYABLE: dict[str, list[str]] = {
    # across fields (endDate after startDate, a period's length, one goal per metric, one budget kind)
    **{f"GET /v1/analytics/{path}": [_PERIOD] for path in (
        "overview", "campaigns/{campaign_id}", "tracks/{track_id}", "audiences/{audience_id}/insights")},
    # (and, for audiences, relative to the clock: how far back Meta keeps insights)
    "GET /v1/analytics/audiences/{audience_id}/insights": [_PERIOD, r"startDate: Meta keeps \d+ months"],
    "POST /v1/campaigns": _CAMPAIGN,
    "PATCH /v1/campaigns/{campaign_id}": _CAMPAIGN,  # and against the stored dates
    "PATCH /v1/meta/campaigns/{meta_campaign_id}": [
        r"status: give at least one of", r"lifetimeBudget: give dailyBudget or lifetimeBudget, not both",
        r"(dailyBudget|lifetimeBudget): .* more decimals than"],  # and the ad account's currency
    "POST /v1/meta/campaigns": [r"budget: .* more decimals than"],
    "PATCH /v1/auth/profile": [r"currentPassword: (does not match|required to change the email or password)"],
    # state: the caller's password, the organization's name
    "DELETE /v1/users/me": [r"password: does not match your current password"],
    "DELETE /v1/organization": [r"confirm: must be the organization's name, exactly"],
    # relative to the clock: how far back Meta keeps insights and takes events, our live window
    "GET /v1/meta/campaigns/{meta_campaign_id}/insights": [
        r"since: Meta keeps \d+ months of insights", r"until: must not be before since"],
    "POST /v1/meta/conversions": [_EVENT_AGE, _WEBSITE_EVENT],
    "POST /v1/meta/conversions/batch": [_EVENT_AGE, _WEBSITE_EVENT],
    "POST /v1/streaming/events": [r"events\[\d+\]\.timestamp: is more than (7 days old|5 minutes in the future)"],
    # state: a token or OAuth state we issued (or not), the provider's refusal, the registered redirect URI
    "GET /v1/auth/verify-email/{token}": [r"token: invalid, used or expired"],
    "POST /v1/auth/reset-password": [r"token: invalid, used or expired"],
    "POST /v1/auth/accept-invitation": [r"token: invalid, used, revoked or expired"],
    "GET /v1/auth/spotify/callback": _OAUTH_CALLBACK,
    "GET /v1/auth/meta/callback": _OAUTH_CALLBACK,
    "GET /v1/auth/spotify/connect": [r"redirect_uri: expected "],
    "GET /v1/auth/meta/connect": [r"redirect_uri: expected "],
    "GET /v1/listen/callback": [r"Link expired|Not connected"],
    # a file's contents; a host's addresses, IPv6 syntax; a secret's UTF-8 bytes and distinct characters
    # (and a multipart field name that is not UTF-8 text: the form cannot be read)
    "POST /v1/imports": [r"file: ", r"form: expected str - at key"],
    "POST /v1/webhooks": [_WEBHOOK_URL, r"secret: a chosen secret has"],
    "PATCH /v1/webhooks/{webhook_id}": [_WEBHOOK_URL, r"secret: a chosen secret has"],
    "POST /v1/rules": _RULE,
    "PATCH /v1/rules/{rule_id}": _RULE,
    "POST /v1/rules/preview": _RULE + _PREVIEW,
    "POST /v1/rules/{rule_id}/preview": _PREVIEW,
}


def _reasons(text: str) -> list[str]:
    """A 400's reasons: each detail as "field: message", or an HTML page's title."""
    title = re.search(r"<title>(.*?)</title>", text)
    if title:
        return [title.group(1)]
    error = json.loads(text)["error"]
    return [f"{d['field']}: {d['message']}" for d in error.get("details") or []] or [error["message"]]


@schemathesis.check
def schema_valid_accepted(ctx: schemathesis.CheckContext, response: schemathesis.Response,
                          case: schemathesis.Case) -> bool | None:
    """positive_data_acceptance, but a 400 whose every reason is in UNSAYABLE for its operation passes."""
    try:
        return checks.positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        allowed = UNSAYABLE.get(case.operation.label, [])
        if response.status_code in (400, 422) and all(
                any(re.match(rule, reason) for rule in allowed) for reason in _reasons(response.text)):
            return None
        raise


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    schema_valid_accepted,
]


async def _create_database(admin_dsn: str, name: str) -> None:
    async with open_database(admin_dsn, max_size=1) as admin:
        await admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DATABASE}")


@pytest.fixture(scope="module")
def live_api(pg_dsn_factory: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    name = f"fuzz_{uuid.uuid4().hex}"
    trio.run(_create_database, pg_dsn_factory("postgres"), name)
    settings_ = load({"SONGTRACK_AUTH_ATTEMPTS": "100000"})
    with serve_in_thread(pg_dsn_factory(name), settings_, Path(tmp_path_factory.mktemp("keys"))) as live:
        yield live


@pytest.fixture(scope="module")
def api_schema(live_api: LiveApi) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(f"{live_api.base_url}/openapi.json")
    return (
        schema.exclude(method="POST", path=["/v1/auth/logout", "/v1/auth/logout-all"])
        .exclude(method="PATCH", path="/v1/organization")
    )


def test_no_operation_fails_or_breaks_its_schema(api_schema: schemathesis.BaseSchema, live_api: LiveApi) -> None:
    # One Hypothesis run per operation, every failure collected, so one report names them all.
    # (schemathesis' pytest plugin does not load under pytest 9, so we drive it directly.)
    headers = {"Authorization": f"Bearer {live_api.token}"}
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 30
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def exercise(case: schemathesis.Case) -> None:
            # Redirects are answers to check, not hops to take: a connect's 302 leads into a simulator.
            case.call_and_validate(base_url=live_api.base_url, headers=headers, checks=CHECKS, timeout=30,
                                   allow_redirects=False)

        try:
            exercise()
        except Exception as exc:  # collect and go on: the report should list every broken operation
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
