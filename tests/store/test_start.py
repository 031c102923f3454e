"""start.lua: fetched entries become attempts (run += 1), or are acknowledged and skipped."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from streamq.store import EnqueueSpec, Store

from .conftest import Table
from .redis_state import (
    ANY_ID,
    NORMAL,
    NOW,
    PAYLOAD,
    K,
    State,
    Stream,
    ZSet,
    batch_event,
    delivery,
    entry,
    event,
    events,
    record,
    running,
    text,
)


async def start(
    store: Store, jobs: list[tuple[str, str]], worker: str = "w1"
) -> list[tuple[str, int, int]]:
    """Start (job id, entry id) pairs fetched from the normal stream; (job id, run,
    attempt) of each runnable one, in order (the others are acknowledged and skipped).
    Each runnable one carries its record's payload."""
    runnable = await store.start(worker, [delivery(j, e, run=0) for j, e in jobs])
    assert all(d.payload == PAYLOAD.encode() for d in runnable)
    return [(d.job_id, d.run, d.attempt) for d in runnable]


def delivered(*entry_ids: str, consumer: str = "w1") -> Stream:
    """The normal stream holding these entries, each pending under `consumer`."""
    return Stream([(i, entry("j1")) for i in entry_ids], dict.fromkeys(entry_ids, consumer),
                  entry_ids[-1])


CROWD = [(f"{i}-0", entry("j1" if i == 1 else "j9" if i == 30 else f"x{i}"))
         for i in range(1, 31)]
"""Thirty entries, more than one batch-wide XPENDING reply of a two-entry batch carries."""

ACKED = Stream([], {}, "1-0")
"""The normal stream after its one delivered entry was acknowledged and deleted."""

QUEUED: State = {
    K.job("j1"): record("queued"),
    NORMAL: delivered("1-0"),
    K.index("queued"): ZSet({"j1": NOW - 1000}),
}


def started(run: int = 1, attempt: int = 1, entry_id: str = "1-0", **fields: object) -> State:
    return {
        K.job("j1"): record("processing", run=run, attempt=attempt, deliveries=run, worker="w1",
                            started=NOW, entry=entry_id, **fields),
        K.index("processing"): ZSet({"j1": NOW}),
    }


CASES = [
    pytest.param(
        QUEUED, [("j1", "1-0")], [("j1", 1, 1)],
        {
            **started(),
            NORMAL: delivered("1-0"),
            K.events: events(event("j1", "queued", "processing", worker="w1")),
        },
        id="queued-job-starts-run-1",
    ),
    pytest.param(
        {**QUEUED, K.job("j1"): record("queued", attempt=3, run=4, deliveries=4, lost=1)},
        [("j1", "1-0")], [("j1", 5, 3)],
        {
            **started(run=5, attempt=3, lost=1),
            NORMAL: delivered("1-0"),
            K.events: events(event("j1", "queued", "processing", attempt=3, worker="w1")),
        },
        id="retried-job-run-number-keeps-growing",
    ),
    pytest.param(
        {NORMAL: delivered("1-0")}, [("j1", "1-0")], [], {NORMAL: ACKED},
        id="job-missing-entry-acked-and-deleted",
    ),
    pytest.param(
        {
            K.job("j1"): running(),
            NORMAL: delivered("1-0", "2-0"),
            K.index("processing"): ZSet({"j1": NOW - 500}),
        },
        [("j1", "2-0")], [],
        {
            K.job("j1"): running(),
            NORMAL: Stream([("1-0", entry("j1"))], {"1-0": "w1"}, "2-0"),
            K.index("processing"): ZSet({"j1": NOW - 500}),
        },
        id="duplicate-entry-of-a-running-job-skipped",
    ),
    pytest.param(
        {
            K.job("j1"): running(),
            NORMAL: delivered("1-0"),
            K.index("processing"): ZSet({"j1": NOW - 500}),
        },
        [("j1", "1-0")], [("j1", 2, 1)],
        {
            **started(run=2),
            NORMAL: delivered("1-0"),
            K.events: events(event("j1", "processing", "processing", worker="w1")),
        },
        id="same-entry-delivered-again-after-group-loss-restarts",
    ),
    pytest.param(
        {**QUEUED, NORMAL: Stream([("2-0", entry("j1"))], {"2-0": "w2"}, "2-0")},
        [("j1", "1-0")], [],
        {**QUEUED, NORMAL: Stream([("2-0", entry("j1"))], {"2-0": "w2"}, "2-0")},
        id="entry-reclaimed-before-a-late-start-left-alone",
    ),
    pytest.param(
        {**QUEUED, K.job("j2"): record("queued"),
         NORMAL: Stream([("1-0", entry("j1")), ("2-0", entry("j2")), ("3-0", entry("j3"))],
                        {"1-0": "w1", "2-0": "w1", "3-0": "w1"}, "3-0"),
         K.index("queued"): ZSet({"j1": NOW - 1000, "j2": NOW - 1000})},
        [("j1", "1-0"), ("j3", "3-0"), ("j2", "2-0")], [("j1", 1, 1), ("j2", 1, 1)],
        {
            **started(),
            K.job("j2"): record("processing", run=1, deliveries=1, worker="w1", started=NOW,
                                entry="2-0"),
            NORMAL: Stream([("1-0", entry("j1")), ("2-0", entry("j2"))],
                           {"1-0": "w1", "2-0": "w1"}, "3-0"),
            K.index("processing"): ZSet({"j1": NOW, "j2": NOW}),
            K.events: events(batch_event(event("j1", "queued", "processing", worker="w1"),
                                         event("j2", "queued", "processing", worker="w1"),
                                         worker="w1")),
        },
        id="batch-one-code-pair-per-entry",
    ),
    pytest.param(
        {**QUEUED, K.job("j9"): record("queued"),
         NORMAL: Stream(CROWD, {i: "w1" for i, _ in CROWD}, "30-0"),
         K.index("queued"): ZSet({"j1": NOW - 1000, "j9": NOW - 1000})},
        [("j1", "1-0"), ("j9", "30-0")], [("j1", 1, 1), ("j9", 1, 1)],
        {
            **started(),
            K.job("j9"): record("processing", run=1, deliveries=1, worker="w1", started=NOW,
                                entry="30-0"),
            NORMAL: Stream(CROWD, {i: "w1" for i, _ in CROWD}, "30-0"),
            K.index("processing"): ZSet({"j1": NOW, "j9": NOW}),
            K.events: events(batch_event(event("j1", "queued", "processing", worker="w1"),
                                         event("j9", "queued", "processing", worker="w1"),
                                         worker="w1")),
        },
        id="many-held-in-the-batch-range-each-entry-asked-alone",
    ),
    pytest.param(
        {**QUEUED, K.paused: {"normal": "1"}}, [("j1", "1-0")], [],
        {**QUEUED, K.paused: {"normal": "1"},
         NORMAL: Stream([(ANY_ID, entry("j1", enq=NOW))], {}, "1-0")},
        id="priority-paused-meanwhile-entry-handed-back-fresh",
    ),
]

FINISHED = ["succeeded", "failed", "cancelled", "scheduled", "retrying"]


@pytest.mark.parametrize(("before", "jobs", "reply", "after"), CASES)
async def test_start(
    table: Table, before: State, jobs: list[tuple[str, str]],
    reply: list[tuple[str, int, int]], after: State,
) -> None:
    await table.check(before, lambda: start(table.store, jobs), reply, after)


@pytest.mark.parametrize("status", FINISHED)
async def test_start_skips_a_job_not_queued(table: Table, status: str) -> None:
    """Cancelled while queued, finished or waiting in `scheduled`: the entry is stale."""
    job = record(status, attempt=2, run=1)
    await table.check(
        {K.job("j1"): job, NORMAL: delivered("1-0")}, lambda: start(table.store, [("j1", "1-0")]),
        [], {K.job("j1"): job, NORMAL: ACKED},
    )


async def test_cancel_then_requeue_of_a_queued_job_runs_one_attempt(
    redis_client: Redis, store: Store
) -> None:
    """Cancelling a queued job leaves its entry in the stream; retrying it adds a second.
    Fetched together, the two entries must not start two concurrent attempts."""
    await store.ensure_groups("q")
    spec = EnqueueSpec("q", "j1", "email.send", b"{}", "normal", 3, 30.0)
    await store.enqueue([spec])
    assert await store.cancel("q", "j1") == "queued"
    assert await store.requeue("q", "j1") == "cancelled"
    fetched = await store.fetch("q", ("high", "normal", "low"), "w1", 10)
    assert len(fetched.deliveries) == 2
    runnable = await store.start("w1", fetched.deliveries)
    assert [(d.job_id, d.run) for d in runnable] == [("j1", 1)]
    assert await redis_client.xlen(NORMAL) == 1
    assert text(await redis_client.hget(K.job("j1"), "entry")) == text(runnable[0].entry_id)
