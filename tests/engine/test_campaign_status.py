"""The campaign lifecycle table, checked as properties: whatever a client does, a campaign only ever
visits legal states, archived is final, and each action starts from exactly the statuses the product
spec lists. Pure: no database; the clock is a fixed ``now``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.campaign_status import (
    ACTIONS,
    STATUSES,
    TRANSITIONS,
    Action,
    IllegalAction,
    action_to,
    allowed_actions,
    apply,
    launch_blockers,
)

# The spec, written out independently of the module's table.
SPEC = {
    "launch": ({"draft", "paused"}, "active"),
    "pause": ({"active"}, "paused"),
    "complete": ({"active", "paused"}, "completed"),
    "archive": ({"draft", "paused", "completed"}, "archived"),
}

actions = st.sampled_from(ACTIONS)
statuses = st.sampled_from(STATUSES)


def test_each_action_starts_from_exactly_the_specified_statuses() -> None:
    assert {a: (set(t.sources), t.target) for a, t in TRANSITIONS.items()} == SPEC
    assert set(TRANSITIONS) == set(ACTIONS)


@given(st.lists(actions, max_size=30))
def test_every_path_from_draft_visits_only_legal_states(path: list[Action]) -> None:
    status: str = "draft"
    for action in path:
        sources, target = SPEC[action]
        if status in sources:
            assert action in allowed_actions(status)
            status = apply(status, action)
            assert status == target
        else:
            with pytest.raises(IllegalAction) as refused:
                apply(status, action)
            assert (refused.value.current, refused.value.allowed) == (status, allowed_actions(status))
        assert status in STATUSES


@given(actions)
def test_archived_has_no_exits(action: Action) -> None:
    assert allowed_actions("archived") == ()
    with pytest.raises(IllegalAction, match="archived"):
        apply("archived", action)


@given(statuses, statuses)
def test_a_requested_status_names_the_one_action_that_reaches_it(current: str, target: str) -> None:
    action = action_to(current, target)
    reaching = [a for a, (sources, to) in SPEC.items() if current in sources and to == target]
    assert reaching == ([] if action is None else [action])


NOW = datetime(2027, 1, 10, 12, tzinfo=UTC)


def test_launch_needs_a_track_and_a_budget() -> None:
    ahead = NOW + timedelta(days=1)
    assert launch_blockers(has_track=True, budget=0.01, end_date=ahead, now=NOW) == []
    blockers = launch_blockers(has_track=False, budget=0, end_date=ahead, now=NOW)
    assert [field for field, _ in blockers] == ["trackId", "budget"]


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)))
def test_a_campaign_whose_end_date_has_passed_cannot_launch(end: datetime) -> None:
    blockers = dict(launch_blockers(has_track=True, budget=10, end_date=end, now=NOW))
    assert ("endDate" in blockers) == (end <= NOW)
    assert end.isoformat() in blockers.get("endDate", end.isoformat())
