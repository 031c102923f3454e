"""cron.lua: a tick after the last one fires one job | a tick at or before the last one was
already taken (by this node or another) and does nothing | a misfire is skipped (only the
last tick moves) or, under run_once, fired as one job | over the backlog limit the tick is
taken and no job written."""

from __future__ import annotations

from typing import Any

import pytest

from streamq.store import EnqueueSpec
from streamq.store.codes import CronCode

from .conftest import Table
from .redis_state import (
    ANY_ID,
    NORMAL,
    NOW,
    PAYLOAD,
    TYPE,
    K,
    Q,
    State,
    Stream,
    ZSet,
    entry,
    event,
    events,
    read_state,
    record,
)

NAME = "nightly"
TICK = NOW - 200
"""The tick being taken: due 200 ms ago."""
MINUTE = 60_000
FIRED, TAKEN, SKIPPED = CronCode.FIRED, CronCode.TAKEN, CronCode.SKIPPED


async def cron(
    table: Table, tick: int = TICK, fire: bool = True, job_id: str = "c1", **settings: Any
) -> tuple[CronCode, str]:
    """Take `tick` of the cron, minting `job_id` for its job."""
    spec = EnqueueSpec(Q, job_id, TYPE, PAYLOAD.encode(), "normal", 3, 30.0)
    return await table.store_with(**settings).cron_fire(spec, NAME, tick, fire)


def last(tick: int) -> dict[str, str]:
    """The cron hash after `tick` was taken."""
    return {NAME: str(tick)}


def fired(tick: int = TICK, job_id: str = "c1") -> State:
    """The state after the tick's job was written, on an otherwise empty queue."""
    return {
        K.cron: last(tick),
        K.job(job_id): record("queued", created=NOW, due=tick, cron=NAME, tick=tick),
        NORMAL: Stream([(ANY_ID, entry(job_id, enq=NOW))]),
        K.index("queued"): ZSet({job_id: NOW}),
        K.index_all: ZSet({job_id: NOW}),
        K.index_type(TYPE): ZSet({job_id: NOW}),
        K.types: {TYPE},
        K.events: events(event(job_id, "", "queued")),
    }


AT_TICK = {K.cron: last(TICK)}
AHEAD = {K.cron: last(TICK + MINUTE)}
BACKLOG = ZSet({"q1": NOW - 5, "q2": NOW - 4})

CASES = [
    pytest.param({K.cron: last(TICK - MINUTE)}, {}, (FIRED, "c1"), fired(),
                 id="tick-after-the-last-fires-one-job"),
    pytest.param({}, {}, (FIRED, "c1"), fired(), id="cron-never-taken-fires"),
    pytest.param(AT_TICK, {}, (TAKEN, str(TICK)), AT_TICK, id="same-tick-again-does-nothing"),
    pytest.param(AHEAD, {}, (TAKEN, str(TICK + MINUTE)), AHEAD,
                 id="older-tick-than-the-last-does-nothing"),
    pytest.param(AT_TICK, {"fire": False}, (TAKEN, str(TICK)), AT_TICK,
                 id="skip-of-a-taken-tick-does-nothing"),
    pytest.param(
        {K.cron: last(TICK - 60 * MINUTE)}, {"fire": False}, (SKIPPED, str(TICK)),
        {K.cron: last(TICK)},
        id="misfire-skip-moves-past-no-job",
    ),
    pytest.param(
        {K.cron: last(TICK - 60 * MINUTE)}, {"fire": True}, (FIRED, "c1"), fired(),
        id="misfire-run-once-one-job-for-the-latest-missed-tick",
    ),
    pytest.param(
        {K.cron: {NAME: str(TICK - MINUTE), "other": str(TICK + MINUTE)}}, {}, (FIRED, "c1"),
        {**fired(), K.cron: {NAME: str(TICK), "other": str(TICK + MINUTE)}},
        id="other-crons-untouched",
    ),
    pytest.param(
        {K.cron: last(TICK - MINUTE), K.index("queued"): BACKLOG}, {"max_backlog": 2},
        (CronCode.QUEUE_FULL, "2"), {K.cron: last(TICK), K.index("queued"): BACKLOG},
        id="over-backlog-tick-taken-no-job",
    ),
    pytest.param(
        {K.cron: last(TICK - MINUTE), K.index("queued"): BACKLOG}, {"max_backlog": 3},
        (FIRED, "c1"), {**fired(), K.index("queued"): ZSet({**BACKLOG, "c1": NOW})},
        id="under-backlog-fires",
    ),
]


@pytest.mark.parametrize(("before", "call", "reply", "after"), CASES)
async def test_cron(
    table: Table, before: State, call: dict[str, Any], reply: tuple[CronCode, str],
    after: State,
) -> None:
    await table.check(before, lambda: cron(table, **call), reply, after)


async def test_each_tick_fires_once_whoever_takes_it(table: Table) -> None:
    """Two nodes take the same tick with the job ids they minted: one job; the next tick
    fires again."""
    assert await cron(table, job_id="c1") == (FIRED, "c1")
    assert await cron(table, job_id="c2") == (TAKEN, str(TICK))
    assert await read_state(table.redis) == fired()
    assert await cron(table, tick=TICK + MINUTE, job_id="c3") == (FIRED, "c3")
    state = await read_state(table.redis)
    assert state[K.cron] == last(TICK + MINUTE)
    assert sorted(state[K.index_all]) == ["c1", "c3"]
    assert [e[1]["id"] for e in state[NORMAL].entries] == ["c1", "c3"]
