"""Deadlines: attempts' time limits on shared per-tick timers. An attempt is stopped once
its deadline has passed (never before, at most a tick after), and one that ended first is
left alone."""

from __future__ import annotations

import asyncio

import anyio
import anyio.lowlevel

from streamq.worker.deadlines import GRAIN, TICKS_PER_LIMIT, Deadlines, grain


async def test_a_scope_is_cancelled_once_its_deadline_has_passed_and_not_before() -> None:
    deadlines = Deadlines()
    clock = asyncio.get_running_loop().time
    deadline = clock() + 0.05
    with anyio.CancelScope() as scope:
        deadlines.add(scope, deadline, 0.05)
        await anyio.sleep(5)
    stopped = clock()
    assert scope.cancelled_caught
    assert stopped >= deadline
    assert stopped < deadline + 1.0  # a tick is 10 ms; a generous bound for a busy machine
    assert len(deadlines) == 0


async def test_a_discarded_scope_is_left_alone_after_its_deadline() -> None:
    deadlines = Deadlines()
    clock = asyncio.get_running_loop().time
    with anyio.CancelScope() as finished:
        tick = deadlines.add(finished, clock() + 0.02, 0.02)
        await anyio.lowlevel.checkpoint()  # the attempt ends before its deadline
    deadlines.discard(finished, tick)
    with anyio.CancelScope() as other:  # the same tick's timer still fires for this one
        deadlines.add(other, clock() + 0.02, 0.02)
        await anyio.sleep(5)
    assert other.cancelled_caught
    assert not finished.cancel_called


async def test_every_scope_of_a_shared_tick_is_cancelled() -> None:
    deadlines = Deadlines()
    clock = asyncio.get_running_loop().time
    deadline = (int(clock() / GRAIN) + 3) * GRAIN  # all 200 in one tick
    stopped: list[float] = []

    async def attempt() -> None:
        with anyio.CancelScope() as scope:
            deadlines.add(scope, deadline, 1.0)
            await anyio.sleep(5)
        assert scope.cancelled_caught
        stopped.append(clock())

    async with anyio.create_task_group() as tg:
        for _ in range(200):
            tg.start_soon(attempt)
    assert len(stopped) == 200 and min(stopped) >= deadline
    assert len(deadlines) == 0 and deadlines.ticks == 0  # fired ticks are gone


async def test_a_long_limit_keeps_a_bounded_number_of_timers() -> None:
    deadlines = Deadlines()
    clock = asyncio.get_running_loop().time
    limit_s = 3600.0
    start = clock()
    for i in range(5000):  # attempts started over a whole limit's worth of time
        started = start + i * limit_s / 5000
        with anyio.CancelScope() as scope:
            tick = deadlines.add(scope, started + limit_s, limit_s)
            await anyio.lowlevel.checkpoint()
        deadlines.discard(scope, tick)
    assert len(deadlines) == 0
    assert deadlines.ticks <= TICKS_PER_LIMIT + 1
    assert grain(limit_s) == limit_s / TICKS_PER_LIMIT and grain(1.0) == GRAIN


async def test_a_deadline_on_a_tick_boundary_is_not_cut_short() -> None:
    deadlines = Deadlines()
    base = round(asyncio.get_running_loop().time() + 3600, 2)
    for k in range(200):  # deadlines on (or a rounding error from) tick boundaries
        deadline = base + k * GRAIN
        scope = anyio.CancelScope()
        length, n = deadlines.add(scope, deadline, 1.0)
        assert length * n >= deadline, deadline
        deadlines.discard(scope, (length, n))
