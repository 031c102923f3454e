"""progress.lua: a running attempt stores its progress | any other attempt is ignored."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from streamq.store import Store

from .conftest import Table
from .redis_state import NOW, K, Q, State, Ttl, read_state, running, seed

RUNNING = {K.job("j1"): running()}
RESTARTED = {K.job("j1"): running(run=2)}
DONE = {K.job("j1"): Ttl(running(status="succeeded", finished=NOW), 60)}

CASES = [
    pytest.param(RUNNING, 1, True,
                 {K.job("j1"): running(progress="0.5", progress_message="half way")},
                 id="current-attempt-stored"),
    pytest.param(
        {K.job("j1"): running(progress="0.1", progress_message="started")}, 1, True,
        {K.job("j1"): running(progress="0.5", progress_message="half way")},
        id="overwrites-earlier-progress",
    ),
    pytest.param(RESTARTED, 1, False, RESTARTED, id="stale-attempt-ignored"),
    pytest.param(DONE, 1, False, DONE, id="finished-job-ignored"),
    pytest.param({}, 1, False, {}, id="missing-job-not-recreated"),
]


@pytest.mark.parametrize(("before", "run", "reply", "after"), CASES)
async def test_progress(table: Table, before: State, run: int, reply: bool, after: State) -> None:
    await table.check(
        before, lambda: table.store.set_progress(Q, "j1", run, 0.5, "half way"), reply, after
    )


async def test_store_set_progress(
    redis_client: Redis, store: Store
) -> None:
    await seed(redis_client, RUNNING)
    assert await store.set_progress("q", "j1", 1, 0.25, None) is True
    assert await store.set_progress("q", "j1", 2, 0.75, "late") is False
    assert await read_state(redis_client) == {
        K.job("j1"): running(progress="0.25", progress_message="")
    }
