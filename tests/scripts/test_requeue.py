"""requeue.lua: a failed or cancelled job runs again under its id with a fresh budget,
and its dead-letter entries go | other statuses -> code 0 | missing -> -1."""

from __future__ import annotations

from typing import Any

import pytest

from streamq.scripts import Scripts

from .conftest import Table
from .redis_state import (
    ANY_ID,
    EVENTS_MAX,
    NOW,
    K,
    State,
    Stream,
    Ttl,
    ZSet,
    entry,
    event,
    events,
    record,
    running,
    text,
)


async def requeue(scripts: Scripts, *dead_entries: str) -> Any:
    return text(await scripts.requeue(
        keys=[K.job("j1"), *K.streams, K.dead, K.index("failed"), K.index("cancelled"),
              K.index("queued"), K.events],
        args=[NOW, EVENTS_MAX, *dead_entries],
    ))


OUTCOME = {"error": "boom", "error_type": "LostWorker", "traceback": "tb",
           "reason": "lost worker", "finished": NOW - 10}
FAILED = running(status="failed", run=4, deliveries=4, attempt=2, lost=3, **OUTCOME)
DEAD = Stream([("5-0", {"job": "j1", "reason": "lost worker"}),
               ("6-0", {"job": "j0", "reason": "error"}),
               ("7-0", {"job": "j1", "reason": "error"})])
CANCELLED = running(status="cancelled", priority="high", reason="cancelled",
                    finished=NOW - 10)


def fresh(frm: str, priority: str = "normal", **fields: object) -> State:
    """The job queued again with attempt 1, its outcome fields gone."""
    return {
        K.job("j1"): running(status="queued", priority=priority, attempt=1, lost=0, due=NOW,
                             **fields),
        K.stream(priority): Stream([(ANY_ID, entry("j1", enq=NOW))]),
        K.index("queued"): ZSet({"j1": NOW}),
        K.events: events(event("j1", frm, "queued")),
    }


CASES = [
    pytest.param(
        {K.job("j1"): Ttl(FAILED, 600), K.dead: DEAD, K.index("failed"): ZSet({"j1": NOW - 10})},
        ["5-0", "6-0", "7-0", "8-0"], [1, "failed"],
        {**fresh("failed", run=4, deliveries=4),
         K.dead: Stream([("6-0", {"job": "j0", "reason": "error"})])},
        id="failed-fresh-budget-persisted-its-dead-entries-removed-others-kept",
    ),
    pytest.param(
        {K.job("j1"): Ttl(CANCELLED, 600), K.index("cancelled"): ZSet({"j1": NOW - 10})}, [],
        [1, "cancelled"], fresh("cancelled", priority="high"),
        id="cancelled-back-into-its-priority-stream",
    ),
    pytest.param({}, [], [-1, ""], {}, id="job-missing"),
]

NOT_ENDED = ["scheduled", "queued", "processing", "retrying", "succeeded"]


@pytest.mark.parametrize(("before", "dead_entries", "reply", "after"), CASES)
async def test_requeue(
    table: Table, before: State, dead_entries: list[str], reply: list[Any], after: State
) -> None:
    await table.check(before, lambda: requeue(table.scripts, *dead_entries), reply, after)


@pytest.mark.parametrize("status", NOT_ENDED)
async def test_requeue_refuses_a_job_not_failed_or_cancelled(table: Table, status: str) -> None:
    before = {K.job("j1"): record(status), K.dead: DEAD}
    await table.check(before, lambda: requeue(table.scripts, "5-0"), [0, status], before)
