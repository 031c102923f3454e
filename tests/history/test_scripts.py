"""The terminal scripts with history on: through the store's own calls under the frozen
clock, the state they leave is the state without history plus one archive entry, the job's
record as it finished (its id added); transitions that are not terminal add nothing. The
script tables in tests/store run with history off and show that no archive key is touched
then."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from streamq.store import Store
from tests.store.conftest import Table
from tests.store.redis_state import (
    ANY_ID,
    NOW,
    K,
    Q,
    State,
    Stream,
    read_state,
    record,
    running,
    seed,
    unwrap,
)
from tests.store.test_finish import RUNNING, outcome
from tests.store.test_reclaim import lost_job, reclaim

Call = Callable[[Store], Awaitable[Any]]
ERROR = {"error": "boom", "error_type": "ValueError", "traceback": "Traceback...",
         "reason": "retries exhausted"}
ARCHIVE_ON = {"history_url": "postgresql://postgres@127.0.0.1:1/never-connected",
              "history_max_backlog": 1_000}


def by_finish(kind: str, **options: Any) -> Call:
    return lambda store: store.finish([outcome(kind, **options)])


def by_cancel() -> Call:
    return lambda store: store.cancel(Q, "j1")


CASES = [
    pytest.param(RUNNING, by_finish("succeeded", result='{"ok":1}'), True,
                 id="finish-succeeded"),
    pytest.param({**RUNNING, K.job("j1"): running(attempt=4)},
                 by_finish("failed", error=ERROR), True, id="finish-failed"),
    pytest.param(RUNNING, by_finish("retry", delay=2_000, error=ERROR), False,
                 id="finish-retry-not-terminal"),
    pytest.param({K.job("j1"): record("queued")}, by_cancel(), True, id="cancel-queued"),
    pytest.param(RUNNING, by_cancel(), True, id="cancel-processing"),
    pytest.param(lost_job(lost=2), reclaim, True, id="reclaim-dead-letter"),
    pytest.param(lost_job(), reclaim, False, id="reclaim-requeue-not-terminal"),
]


def anonymous(state: State) -> State:
    """The state with every stream entry's id unnamed (Redis names new entries by time)."""
    return {
        key: Stream([(ANY_ID, f) for _, f in value.entries], value.pending,
                    value.last_delivered)
        if isinstance(value, Stream) else value
        for key, value in state.items()
    }


@pytest.mark.parametrize(("before", "call", "terminal"), CASES)
async def test_terminal_transitions_archive_the_finished_record(
    table: Table, redis_client: Redis, before: State, call: Call, terminal: bool
) -> None:
    await seed(redis_client, before)
    off_reply = await call(table.store)
    without_history = await read_state(redis_client)
    await redis_client.flushall()
    await seed(redis_client, before)
    assert await call(table.store_with(**ARCHIVE_ON)) == off_reply
    with_history = await read_state(redis_client)

    archive = with_history.pop(K.archive, None)
    assert with_history == anonymous(without_history)
    if not terminal:
        assert archive is None
        return
    finished = unwrap(with_history[K.job("j1")])
    assert finished["status"] in ("succeeded", "failed", "cancelled")
    assert finished["finished"] == str(NOW)
    assert archive == Stream([(ANY_ID, {"id": "j1", **finished})])


async def test_the_archive_stream_is_capped(table: Table, redis_client: Redis) -> None:
    """Past its cap (PostgreSQL down for long) the oldest entries go: bounded memory."""
    store = table.store_with(**ARCHIVE_ON)
    for i in range(3_000):
        await seed(redis_client, {K.job(f"j{i}"): record("queued")})
        await store.cancel(Q, f"j{i}")
    assert 1_000 <= await redis_client.xlen(K.archive) < 3_000
