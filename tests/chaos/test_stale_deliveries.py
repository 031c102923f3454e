"""Deliveries that reach a node after it lost them: the step-by-step races behind scenarios
2 and 7 (a frozen or cut-off node whose blocked read, or whose start, completes late).

Each test plays the race with the store's own calls, so that the interleaving is exact."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from streamq import App, JobStatus
from streamq.worker.reclaimer import Reclaimer
from streamq.worker.state import NodeState, Slots
from tests.support.checker import queue_leftovers

pytestmark = pytest.mark.chaos

ORDER = ("high", "normal", "low")


def _reclaimer(app: App) -> Reclaimer:
    return Reclaimer(app.store, NodeState("rescuer", Slots(10), 5), ["default"], 0, 0.1)


async def test_entry_reclaimed_before_its_late_start_is_not_started_by_the_old_node(
    app: App, redis_client: Redis
) -> None:
    """A node's read returns after its entry was reclaimed (it was frozen with the reply in
    its socket). Starting it would run the job from an entry nobody holds: the new entry
    is then skipped as a duplicate, and the job is left `processing` with nothing pending."""
    store = app.store
    job_id = await app.enqueue("work")
    await store.ensure_groups("default")
    late = (await store.fetch("default", ORDER, "frozen", 1)).deliveries
    assert (await _reclaimer(app).reclaim_once()).requeued == 1  # idle past the lease
    assert await store.start("frozen", late) == [], "the old node must not start it"
    fresh = (await store.fetch("default", ORDER, "rescuer", 1)).deliveries
    started = await store.start("rescuer", fresh)
    assert [d.job_id for d in started] == [job_id]
    job = await app.get_job(job_id)
    assert job.status is JobStatus.PROCESSING and job.worker == "rescuer" and job.run == 1


async def test_a_start_whose_reply_was_lost_leaves_the_job_to_the_reclaimer(
    app: App, redis_client: Redis
) -> None:
    """The start script ran but its reply was lost (connection killed): the node must not
    keep renewing entries it never runs, or the job stays `processing` forever."""
    from streamq.worker.fetcher import Fetcher
    from streamq.worker.state import NodeState as State

    store = app.store
    job_id = await app.enqueue("work")
    await store.ensure_groups("default")
    state = State("cut", Slots(10), 5)
    deliveries = (await store.fetch("default", ORDER, "cut", 1)).deliveries

    real_start = store.start

    async def start_then_lose_reply(consumer: str, batch: list) -> list:  # type: ignore[type-arg]
        await real_start(consumer, batch)
        raise ConnectionError("connection reset by peer")

    store.start = start_then_lose_reply  # type: ignore[method-assign]
    fetcher = Fetcher(store, state, "default", None, None, 100)  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        await fetcher.dispatch(deliveries)
    store.start = real_start  # type: ignore[method-assign]
    assert not state.held, "entries it will never run must not be kept (and renewed)"
    result = await _reclaimer(app).reclaim_once()
    assert result.requeued == 1
    assert (await app.get_job(job_id)).status is JobStatus.QUEUED
    assert await queue_leftovers(redis_client) == {"stream:normal": 1, "index:queued": 1}


async def test_a_running_job_whose_stream_was_deleted_is_not_stranded(
    app: App, redis_client: Redis
) -> None:
    """The stream (and its group, and so the pending entry) is deleted while a job runs.
    Its node's heartbeat finds the lease gone and stops the handler; the stopped attempt
    must not leave the job `processing` with nothing pending, where no reclaimer can ever
    find it."""
    from streamq.job import Outcome, OutcomeKind

    store = app.store
    job_id = await app.enqueue("work")
    await store.ensure_groups("default")
    fetched = (await store.fetch("default", ORDER, "node", 1)).deliveries
    [running] = await store.start("node", fetched)
    await redis_client.delete("streamq:{default}:stream:normal")
    assert await store.renew("node", [running]) == [running], "the lease is gone"
    codes = await store.finish([Outcome(running, OutcomeKind.CANCELLED, reason="lease lost")])
    assert codes == [3], "given back: nothing else would ever run it"
    job = await app.get_job(job_id)
    assert (job.status, job.attempt) == (JobStatus.SCHEDULED, 1)
    assert (await store.promote("default")).promoted == 1  # due at once
    await store.ensure_groups("default")
    again = (await store.fetch("default", ORDER, "other", 1)).deliveries
    assert [d.job_id for d in await store.start("other", again)] == [job_id]
