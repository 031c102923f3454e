"""progress.lua: a running attempt stores its progress | any other attempt is ignored."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from streamq.scripts import Scripts
from streamq.store import Store

from .conftest import Table
from .redis_state import NOW, K, State, Ttl, read_state, running, seed, text


async def progress(scripts: Scripts, run: int, fraction: str, message: str) -> int:
    return int(text(await scripts.progress(
        keys=[K.job("j1"), K.events], args=[run, fraction, message, 1000]
    )))


RUNNING = {K.job("j1"): running()}
RESTARTED = {K.job("j1"): running(run=2)}
DONE = {K.job("j1"): Ttl(running(status="succeeded", finished=NOW), 60)}

CASES = [
    pytest.param(RUNNING, 1, 1,
                 {K.job("j1"): running(progress="0.5", progress_message="half way")},
                 id="current-attempt-stored"),
    pytest.param(
        {K.job("j1"): running(progress="0.1", progress_message="started")}, 1, 1,
        {K.job("j1"): running(progress="0.5", progress_message="half way")},
        id="overwrites-earlier-progress",
    ),
    pytest.param(RESTARTED, 1, 0, RESTARTED, id="stale-attempt-ignored"),
    pytest.param(DONE, 1, 0, DONE, id="finished-job-ignored"),
    pytest.param({}, 1, 0, {}, id="missing-job-not-recreated"),
]


@pytest.mark.parametrize(("before", "run", "reply", "after"), CASES)
async def test_progress(table: Table, before: State, run: int, reply: int, after: State) -> None:
    await table.check(
        before, lambda: progress(table.scripts, run, "0.5", "half way"), reply, after
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
