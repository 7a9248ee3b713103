"""The ``filtering`` parameter of insights (PROVIDERS.md A3): ``[{"field", "operator", "value"}, ...]``, all
of which must hold (Meta ANDs them).

It parses and checks the list and answers two questions: is this campaign in (``campaign.id``,
``campaign.name``, checked before any sum, so an account-level row adds up only the campaigns let in), and
is this row in (``spend``, ``impressions``, ``clicks``, on each row's totals). Other fields and the
operators we do not model (``ANY``, ``ALL``, ``NONE``, the date ones) answer Meta's error 100 rather than
being ignored: a client must not believe a filter held when it did not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .graph import Request, invalid_param
from .metrics import DayMetrics
from .world import Account, Campaign

__all__ = ["Filters", "parse_filters"]

_CAMPAIGN_FIELDS = ("campaign.id", "campaign.name")
_METRIC_FIELDS = ("spend", "impressions", "clicks")
# The names Meta dropped for the dotted ones; it says so rather than calling them unknown.
_RENAMED = {"campaign_id": "campaign.id", "campaign_name": "campaign.name"}


def _text(value: object) -> str:
    return str(value)


def _number(value: object) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise invalid_param(f"Filtering value {value!r} must be a number") from None


def _pair(value: object) -> tuple[Decimal, Decimal]:
    if not isinstance(value, list) or len(value) != 2:
        raise invalid_param("Filtering value of IN_RANGE and NOT_IN_RANGE must be a list of two numbers")
    return _number(value[0]), _number(value[1])


def _many(value: object) -> list[str]:
    if not isinstance(value, list):
        raise invalid_param("Filtering value of IN and NOT_IN must be a list")
    return [_text(each) for each in value]


_TEXT_OPERATORS = ("EQUAL", "NOT_EQUAL", "IN", "NOT_IN", "CONTAIN", "NOT_CONTAIN", "STARTS_WITH", "ENDS_WITH")
_NUMBER_OPERATORS = ("EQUAL", "NOT_EQUAL", "GREATER_THAN", "GREATER_THAN_OR_EQUAL", "LESS_THAN",
                     "LESS_THAN_OR_EQUAL", "IN_RANGE", "NOT_IN_RANGE", "IN", "NOT_IN")


def _text_holds(operator: str, actual: str, value: object) -> bool:
    wanted, lowered = _text(value), actual.lower()
    match operator:
        case "EQUAL" | "NOT_EQUAL":
            return (actual == wanted) == (operator == "EQUAL")
        case "IN" | "NOT_IN":
            return (actual in _many(value)) == (operator == "IN")
        case "CONTAIN" | "NOT_CONTAIN":  # Ads Manager's search ignores case; so does this
            return (wanted.lower() in lowered) == (operator == "CONTAIN")
        case "STARTS_WITH":
            return lowered.startswith(wanted.lower())
        case _:
            return lowered.endswith(wanted.lower())


def _number_holds(operator: str, actual: Decimal, value: object) -> bool:
    match operator:
        case "IN_RANGE" | "NOT_IN_RANGE":
            low, high = _pair(value)
            return (low <= actual <= high) == (operator == "IN_RANGE")
        case "IN" | "NOT_IN":
            return (actual in [_number(each) for each in _many(value)]) == (operator == "IN")
    wanted = _number(value)
    return {"EQUAL": actual == wanted, "NOT_EQUAL": actual != wanted, "GREATER_THAN": actual > wanted,
            "GREATER_THAN_OR_EQUAL": actual >= wanted, "LESS_THAN": actual < wanted,
            "LESS_THAN_OR_EQUAL": actual <= wanted}[operator]


@dataclass(frozen=True)
class _Filter:
    field: str
    operator: str
    value: object

    def holds(self, actual: str | Decimal) -> bool:
        if isinstance(actual, Decimal):
            return _number_holds(self.operator, actual, self.value)
        return _text_holds(self.operator, actual, self.value)


@dataclass(frozen=True)
class Filters:
    """The checked ``filtering`` of one request; no filters let everything in."""

    campaign: Sequence[_Filter] = ()
    metric: Sequence[_Filter] = ()

    def admits_campaign(self, campaign: Campaign) -> bool:
        values = {"campaign.id": campaign.id, "campaign.name": campaign.name}
        return all(each.holds(values[each.field]) for each in self.campaign)

    def admits_row(self, account: Account, metrics: DayMetrics) -> bool:
        values = {"spend": Decimal(metrics.spend_minor) / Decimal(account.offset),
                  "impressions": Decimal(metrics.impressions), "clicks": Decimal(metrics.clicks)}
        return all(each.holds(values[each.field]) for each in self.metric)


def parse_filters(request: Request) -> Filters:
    """The request's ``filtering`` (none when absent). Error handling: a malformed list, an unknown field
    or an operator the field does not take raise GraphError 100, worded as Meta words them."""
    if "filtering" not in request.params:
        return Filters()
    given = request.json_param("filtering")
    if not isinstance(given, list):
        raise invalid_param("param filtering must be an array.")
    campaign: list[_Filter] = []
    metric: list[_Filter] = []
    for index, item in enumerate(given):
        if not isinstance(item, dict):
            raise invalid_param("param filtering must be an array of objects.")
        for key in ("field", "operator"):
            if not isinstance(item.get(key), str):
                raise invalid_param(f"The parameter filtering[{index}][{key}] is required")
        if "value" not in item:
            raise invalid_param(f"The parameter filtering[{index}][value] is required")
        checked = _checked(_Filter(item["field"], item["operator"], item["value"]))
        (campaign if checked.field in _CAMPAIGN_FIELDS else metric).append(checked)
    return Filters(tuple(campaign), tuple(metric))


def _checked(given: _Filter) -> _Filter:
    """``given`` once its field, operator and value are known to go together (raises GraphError 100)."""
    field, operator = given.field, given.operator
    if field in _RENAMED:
        raise invalid_param(f"Filter {field} is not valid any more, please use {_RENAMED[field]} instead")
    if field not in (*_CAMPAIGN_FIELDS, *_METRIC_FIELDS):
        raise invalid_param(f"Filtering field {field} is invalid")
    operators = _TEXT_OPERATORS if field in _CAMPAIGN_FIELDS else _NUMBER_OPERATORS
    if operator not in operators:
        raise invalid_param(f"Filtering operator {operator} is not supported for field {field};"
                            f" supported: {', '.join(operators)}")
    given.holds("" if field in _CAMPAIGN_FIELDS else Decimal(0))  # a value of the wrong shape raises here
    return given
