"""The Meta Marketing API adapter: response classification and usage headers (so far)."""

from adapters.meta.classify import classify, transport_errors
from adapters.meta.errors import ReduceDataError
from adapters.meta.usage import (
    APP_DOMAIN,
    INSIGHTS_APP_DOMAIN,
    BucUsage,
    MetaUsage,
    account_domain,
    normalize_account_id,
    read_usage,
    usage_signals,
)

__all__ = [
    "APP_DOMAIN",
    "INSIGHTS_APP_DOMAIN",
    "BucUsage",
    "MetaUsage",
    "ReduceDataError",
    "account_domain",
    "classify",
    "normalize_account_id",
    "read_usage",
    "transport_errors",
    "usage_signals",
]
