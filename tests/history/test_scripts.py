"""The terminal scripts with history on: the state they leave is the state without history
plus one archive entry, the job's record as it finished (its id added); transitions that
are not terminal add nothing. The script tables in tests/scripts run with history off and
show that no archive key is touched then."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from streamq.scripts import Scripts
from tests.scripts.redis_state import (
    ANY_ID,
    NOW,
    K,
    State,
    Stream,
    read_state,
    record,
    running,
    seed,
    unwrap,
)
from tests.scripts.test_cancel import cancel
from tests.scripts.test_finish import RUNNING, finish, outcome
from tests.scripts.test_reclaim import lost_job, reclaim

Call = Callable[[Scripts, int], Awaitable[Any]]
ERROR = {"error": "boom", "error_type": "ValueError", "traceback": "Traceback...",
         "reason": "retries exhausted"}


def by_finish(*outcomes: dict[str, Any]) -> Call:
    return lambda scripts, cap: finish(scripts, *outcomes, archive_max=cap)


def by_cancel() -> Call:
    return lambda scripts, cap: cancel(scripts, archive_max=cap)


def by_reclaim() -> Call:
    return lambda scripts, cap: reclaim(scripts, [("j1", "1-0")], archive_max=cap)


CASES = [
    pytest.param(RUNNING, by_finish(outcome("succeeded", result='{"ok":1}')), True,
                 id="finish-succeeded"),
    pytest.param({**RUNNING, K.job("j1"): running(attempt=4)},
                 by_finish(outcome("failed", **ERROR)), True, id="finish-failed"),
    pytest.param(RUNNING, by_finish(outcome("retry", delay=2_000, **ERROR)), False,
                 id="finish-retry-not-terminal"),
    pytest.param({K.job("j1"): record("queued")}, by_cancel(), True, id="cancel-queued"),
    pytest.param(RUNNING, by_cancel(), True, id="cancel-processing"),
    pytest.param(lost_job(lost=2), by_reclaim(), True, id="reclaim-dead-letter"),
    pytest.param(lost_job(), by_reclaim(), False, id="reclaim-requeue-not-terminal"),
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
    redis_client: Redis, before: State, call: Call, terminal: bool
) -> None:
    scripts = Scripts(redis_client)
    await seed(redis_client, before)
    off_reply = await call(scripts, 0)
    without_history = await read_state(redis_client)
    await redis_client.flushall()
    await seed(redis_client, before)
    assert await call(scripts, 1_000) == off_reply
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


async def test_the_archive_stream_is_capped(redis_client: Redis) -> None:
    """Past its cap (Postgres down for long) the oldest entries go: bounded memory."""
    scripts = Scripts(redis_client)
    for i in range(300):
        await seed(redis_client, {K.job(f"j{i}"): record("queued")})
        await cancel(scripts, f"j{i}", archive_max=100)
    assert 100 <= await redis_client.xlen(K.archive) < 300

