"""The Meta Marketing API adapter: the typed client, insights, login, money units, classification and usage
headers. The account actor's provider is ``adapters.meta.provider``."""

from adapters.meta.classify import classify, transport_errors
from adapters.meta.client import MetaClient
from adapters.meta.errors import ReduceDataError
from adapters.meta.money import currency_offset, to_major, to_minor
from adapters.meta.oauth import InvalidState, MetaOAuth, StateSigner, login_url
from adapters.meta.schemas import AdAccount, Campaign, DebugToken, InsightRow, ReportRun, TokenGrant
from adapters.meta.usage import (
    APP_DOMAIN,
    INSIGHTS_APP_DOMAIN,
    BucUsage,
    MetaUsage,
    account_domain,
    meta_window,
    normalize_account_id,
    read_usage,
    usage_signals,
)

__all__ = [
    "APP_DOMAIN",
    "INSIGHTS_APP_DOMAIN",
    "AdAccount",
    "BucUsage",
    "Campaign",
    "DebugToken",
    "InsightRow",
    "InvalidState",
    "MetaClient",
    "MetaOAuth",
    "MetaUsage",
    "ReduceDataError",
    "ReportRun",
    "StateSigner",
    "TokenGrant",
    "account_domain",
    "classify",
    "currency_offset",
    "login_url",
    "meta_window",
    "normalize_account_id",
    "read_usage",
    "to_major",
    "to_minor",
    "transport_errors",
    "usage_signals",
]
