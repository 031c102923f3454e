"""Cancellation: scheduled and queued jobs at once, a running one within a second on
whichever node runs it (the handler sees CancelledError and cleans up); refusals."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from redis.asyncio import Redis

from streamq import App, InvalidTransition, JobNotFound, Settings
from tests.support.ledger import counts, read_ledger
from tests.support.nodes import running_node
from tests.support.procs import WorkerProcess
from tests.support.redis_state import snapshot


async def test_cancel_scheduled_job_at_once(app: App, redis_client: Redis) -> None:
    @app.task("t")
    async def t() -> None: ...

    job_id = await app.enqueue("t", delay=60)
    job = await app.cancel(job_id)
    assert (job.status, job.reason) == ("cancelled", "cancelled")
    assert await redis_client.zcard(app.store.keys("default").scheduled) == 0
    assert await redis_client.zrange(app.store.keys("default").index("cancelled"), 0, -1) == [
        job_id.encode()
    ]


async def test_cancelled_queued_job_never_runs(app: App) -> None:
    ran: list[str] = []

    @app.task("t")
    async def t() -> None:
        ran.append("ran")

    job_id = await app.enqueue("t")
    assert (await app.cancel(job_id)).status == "cancelled"
    other = await app.enqueue("t")
    async with running_node(app, concurrency=2):
        assert (await app.wait_for(other, timeout_s=5)).status == "succeeded"
    assert ran == ["ran"]
    assert (await app.get_job(job_id)).status == "cancelled"


async def test_cancel_running_job_stops_handler_within_a_second(app: App) -> None:
    seen: list[str] = []
    started = anyio.Event()

    @app.task("long", timeout=60)
    async def long() -> None:
        started.set()
        try:
            await anyio.sleep(30)
        except asyncio.CancelledError:
            seen.append("CancelledError")
            raise
        finally:
            seen.append("cleanup")

    job_id = await app.enqueue("long")
    async with running_node(app, concurrency=2):
        with anyio.fail_after(5):
            await started.wait()
        began = time.monotonic()
        job = await app.cancel(job_id)
        assert job.status == "cancelled"
        with anyio.fail_after(1):
            while seen != ["CancelledError", "cleanup"]:
                await anyio.sleep(0.01)
        assert time.monotonic() - began < 1
    job = await app.get_job(job_id)
    assert (job.status, job.reason) == ("cancelled", "cancelled")
    with pytest.raises(InvalidTransition, match="already cancelled"):
        await app.cancel(job_id)


async def test_cancel_between_fetch_and_handler_start(app: App) -> None:
    """A job already marked processing whose handler has not begun is still stopped: the
    listener remembers the request and the executor honours it when the job arrives."""
    from streamq.job import Delivery, OutcomeKind
    from streamq.worker.executor import Executor
    from streamq.worker.listener import Listener
    from streamq.worker.state import NodeState, Slots

    ran: list[str] = []

    @app.task("t")
    async def t() -> None:
        ran.append("ran")

    state = NodeState(name="n", slots=Slots(1), lease_s=30)
    d = Delivery("default", "normal", b"1-0", "j1", "t", b"{}", 5.0, 0, 1, 0, run=1)
    listener = Listener(app.store, state, {})
    assert listener.cancel("j1") is False  # not held here: another node's job
    state.hold(d)
    assert listener.cancel("j1") is True
    outcome = await Executor(app, app.store, state).run_one(d)
    assert outcome.kind is OutcomeKind.CANCELLED
    assert ran == []
    assert state.cancel_requested == {}


async def test_listener_recheck_cancels_jobs_whose_request_was_missed(app: App) -> None:
    started = anyio.Event()

    @app.task("t")
    async def t() -> None:
        started.set()
        await anyio.sleep(30)

    job_id = await app.enqueue("t")
    async with running_node(app, concurrency=1) as node:
        from streamq.worker.listener import Listener

        with anyio.fail_after(5):
            await started.wait()
        # write `cancelled` without the publish, as if the message was lost
        k = app.store.keys("default")
        await app.redis.hset(k.job(job_id), "status", "cancelled")
        assert await Listener(app.store, node.state, {}).recheck() == 1
        with anyio.fail_after(2):
            while node.state.slots.busy:
                await anyio.sleep(0.01)


async def test_cancel_refusals_change_nothing(app: App, redis_client: Redis) -> None:
    @app.task("t")
    async def t() -> int:
        return 1

    with pytest.raises(JobNotFound):
        await app.cancel("nope")
    job_id = await app.enqueue("t")
    async with running_node(app, concurrency=1):
        assert (await app.wait_for(job_id, timeout_s=5)).status == "succeeded"
    before = await snapshot(redis_client)
    with pytest.raises(InvalidTransition, match="already succeeded"):
        await app.cancel(job_id)
    with pytest.raises(JobNotFound):
        await app.cancel("0" * 32)
    assert await snapshot(redis_client) == before


async def test_cancel_running_30s_job_in_worker_process(
    redis_url: str, settings_for: Callable[..., Settings], tmp_path: Path
) -> None:
    """The done criterion: a 30 s job on another process is `cancelled` within 1 s, and
    its handler's cleanup ran there."""
    ledger = tmp_path / "ledger"
    worker = WorkerProcess(
        redis_url, app_spec="tests.ops.tasks:app", ledger=ledger, concurrency=4
    ).start()
    app = App(settings_for())
    try:
        job_id = await app.enqueue("control.long", {"seconds": 30}, queue="default")
        with anyio.fail_after(20):
            while not counts(read_ledger(ledger), "start")[job_id]:
                await anyio.sleep(0.02)
        began = time.monotonic()
        assert (await app.cancel(job_id)).status == "cancelled"
        with anyio.fail_after(1):
            while not counts(read_ledger(ledger), "cleanup")[job_id]:
                await anyio.sleep(0.01)
        elapsed = time.monotonic() - began
        assert elapsed < 1
        assert counts(read_ledger(ledger), "cancelled")[job_id]
        assert (await app.get_job(job_id)).status == "cancelled"
        assert worker.terminate() == 0
    finally:
        worker.stop()
        await app.close()
