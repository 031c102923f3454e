"""The supervisor: restarts a crashed actor with backoff, waits out Redis outages without
counting them, and gives up past the crash budget so the node exits non-zero."""

from __future__ import annotations

import anyio
import pytest

from streamq.errors import BackendUnavailable
from streamq.worker.supervise import NodeCrashed, supervise


async def test_crashing_actor_is_restarted_then_the_node_gives_up() -> None:
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("bug")

    with anyio.fail_after(5), pytest.raises(NodeCrashed, match="crashed 3 times"):
        await supervise("broken", broken, crash_budget=2)
    assert calls == 3


async def test_outages_are_retried_with_backoff_and_not_counted_as_crashes() -> None:
    calls = 0

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls < 6:
            raise BackendUnavailable("Redis went away")

    with anyio.fail_after(5):
        await supervise("flaky", flaky, crash_budget=0)
    assert calls == 6


async def test_an_actor_that_returns_is_not_restarted() -> None:
    calls = 0

    async def once() -> None:
        nonlocal calls
        calls += 1

    await supervise("once", once)
    assert calls == 1
