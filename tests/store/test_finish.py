"""finish.lua: applied (succeeded, retry, failed) | stale attempt fenced | job missing |
acknowledged because the job was cancelled meanwhile."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from streamq.job import Delivery, Outcome, OutcomeKind
from streamq.keys import QueueKeys
from streamq.store import Store
from streamq.store.codes import FinishCode

from .conftest import Publishes, Table
from .redis_state import (
    ANY_ID,
    FAILED_TTL_MS,
    HIGH,
    NORMAL,
    NOW,
    OK_TTL_MS,
    K,
    State,
    Stream,
    Ttl,
    ZSet,
    delivery,
    entry,
    event,
    events,
    read_state,
    running,
    seed,
)

APPLIED, STALE, NO_RECORD = FinishCode.APPLIED, FinishCode.STALE, FinishCode.NO_RECORD


def outcome(kind: str, job_id: str = "j1", entry: str = "1-0", run: int = 1,
            stream: str = "normal", result: str = "", delay: int = 0,
            error: dict[str, str] | None = None) -> Outcome:
    """One attempt's outcome: job j1, entry 1-0 of the normal stream, run 1, unless told;
    `error` holds its error, error_type, traceback and reason."""
    e = error or {}
    return Outcome(delivery(job_id, entry, stream, run), OutcomeKind(kind),
                   result=result.encode(), retry_delay_ms=delay, error=e.get("error", ""),
                   error_type=e.get("error_type", ""), traceback=e.get("traceback", ""),
                   reason=e.get("reason", ""))


HELD = Stream([("1-0", entry("j1"))], {"1-0": "w1"}, "1-0")
ACKED = Stream([], {}, "1-0")
RUNNING: State = {
    K.job("j1"): running(),
    NORMAL: HELD,
    K.index("processing"): ZSet({"j1": NOW - 500}),
}
ERROR = {"error": "boom", "error_type": "ValueError", "traceback": "Traceback...",
         "reason": "error"}
STOPPED = {"reason": "cancelled"}
"""A handler the node stopped (cancelled, or its lease lost)."""

E1, E2 = ("1-0", entry("j1")), ("2-0", entry("j1"))
RESTARTED: State = {
    **RUNNING, K.job("j1"): running(run=2), NORMAL: Stream([E1], {"1-0": "w2"}, "1-0"),
}
"""Its group was lost and recreated: entry 1-0 was delivered again and w2 runs it (run 2)."""
RERUN: State = {
    **RUNNING, K.job("j1"): running(run=2, entry="2-0", worker="w2"),
    NORMAL: Stream([E1, E2], {"1-0": "w1", "2-0": "w2"}, "2-0"),
}
"""Cancelled while w1 ran it from entry 1-0, retried (entry 2-0), and w2 runs it (run 2)
before w1's stopped attempt reports: w1's entry is still pending."""
REQUEUED: State = {
    K.job("j1"): running(status="queued", attempt=1, due=NOW),
    NORMAL: Stream([E1, E2], {"1-0": "w1"}, "1-0"),
    K.index("queued"): ZSet({"j1": NOW}),
}
"""Cancelled while w1 ran it from entry 1-0, then retried at once (entry 2-0)."""
DONE: State = {
    NORMAL: ACKED,
    K.job("j1"): Ttl(running(status="succeeded", result="1", finished=NOW - 1), 60),
}
CANCELLED = Ttl(running(status="cancelled", reason="cancelled", finished=NOW - 1), 60)

CASES = [
    pytest.param(
        RUNNING, [outcome("succeeded", result='{"ok":1}')], [APPLIED],
        {
            K.job("j1"): Ttl(running(status="succeeded", result='{"ok":1}', finished=NOW),
                             OK_TTL_MS // 1000),
            NORMAL: ACKED,
            K.index("succeeded"): ZSet({"j1": NOW}),
            K.events: events(event("j1", "processing", "succeeded", worker="w1")),
        },
        [], id="succeeded-applied-acked-deleted-retained",
    ),
    pytest.param(
        RUNNING, [outcome("retry", delay=2_000, error=ERROR)], [APPLIED],
        {
            K.job("j1"): running(status="retrying", attempt=2, due=NOW + 2_000, **ERROR),
            NORMAL: ACKED,
            K.scheduled: ZSet({"j1": NOW + 2_000}),
            K.index("retrying"): ZSet({"j1": NOW}),
            K.events: events(event("j1", "processing", "retrying", worker="w1")),
        },
        [(K.wake_channel, str(NOW + 2_000))], id="retry-scheduled-with-backoff-wakes",
    ),
    pytest.param(
        {**RUNNING, K.scheduled: ZSet({"j0": NOW + 1_000})},
        [outcome("retry", delay=2_000, error=ERROR)], [APPLIED],
        {
            K.job("j1"): running(status="retrying", attempt=2, due=NOW + 2_000, **ERROR),
            NORMAL: ACKED,
            K.scheduled: ZSet({"j0": NOW + 1_000, "j1": NOW + 2_000}),
            K.index("retrying"): ZSet({"j1": NOW}),
            K.events: events(event("j1", "processing", "retrying", worker="w1")),
        },
        [], id="retry-behind-an-earlier-job-no-wake",
    ),
    pytest.param(
        {**RUNNING, K.job("j1"): running(attempt=4)},
        [outcome("failed", error={**ERROR, "reason": "retries exhausted"})], [APPLIED],
        {
            K.job("j1"): Ttl(running(status="failed", attempt=4, finished=NOW,
                                     **{**ERROR, "reason": "retries exhausted"}),
                             FAILED_TTL_MS // 1000),
            NORMAL: ACKED,
            K.dead: Stream([(ANY_ID, {
                "job": "j1", "type": "email.send", "reason": "retries exhausted",
                "error_type": "ValueError", "error": "boom", "attempt": "4", "time": str(NOW),
            })]),
            K.index("failed"): ZSet({"j1": NOW}),
            K.events: events(event("j1", "processing", "failed", attempt=4, worker="w1")),
        },
        [], id="failed-dead-lettered-with-reason",
    ),
    pytest.param(
        {**RUNNING, K.index("succeeded"): ZSet({"old": NOW - OK_TTL_MS, "young": NOW - 1})},
        [outcome("succeeded", result="1")], [APPLIED],
        {
            K.job("j1"): Ttl(running(status="succeeded", result="1", finished=NOW),
                             OK_TTL_MS // 1000),
            NORMAL: ACKED,
            K.index("succeeded"): ZSet({"old": NOW - OK_TTL_MS, "young": NOW - 1, "j1": NOW}),
            K.events: events(event("j1", "processing", "succeeded", worker="w1")),
        },
        [], id="index-past-retention-left-to-the-janitor",
    ),
    pytest.param(
        RESTARTED, [outcome("succeeded", result="1", run=1)], [STALE], RESTARTED, [],
        id="stale-run-fenced-entry-of-the-new-run-kept",
    ),
    pytest.param(
        RERUN, [outcome("failed", error=ERROR)], [STALE],
        {**RERUN, NORMAL: Stream([E2], {"2-0": "w2"}, "2-0")}, [],
        id="stale-run-fenced-its-own-entry-released",
    ),
    pytest.param(
        REQUEUED, [outcome("cancelled", error=STOPPED)], [STALE],
        {**REQUEUED, NORMAL: Stream([E2], {}, "1-0")}, [],
        id="stopped-after-cancel-and-retry-entry-released-not-left-pending",
    ),
    pytest.param(
        DONE, [outcome("succeeded", result="1")], [STALE], DONE, [],
        id="outcome-written-twice-second-is-stale",
    ),
    pytest.param(
        RUNNING, [outcome("cancelled", error=STOPPED)], [STALE], RUNNING, [],
        id="lease-lost-cancellation-leaves-the-attempt-to-the-reclaimer",
    ),
    pytest.param(
        {NORMAL: HELD}, [outcome("succeeded", result="1")], [NO_RECORD], {NORMAL: ACKED}, [],
        id="job-missing-entry-acked",
    ),
    pytest.param(
        {**RUNNING, K.job("j1"): CANCELLED}, [outcome("succeeded", result="1")],
        [FinishCode.CANCELLED_MEANWHILE],
        {
            K.job("j1"): CANCELLED,
            NORMAL: ACKED,
            K.index("processing"): ZSet({"j1": NOW - 500}),
        },
        [], id="cancelled-meanwhile-acked-never-overwritten",
    ),
    pytest.param(
        {
            **RUNNING,
            K.job("j2"): running(run=3, entry="7-0"),
            HIGH: Stream([("7-0", entry("j2"))], {"7-0": "w1"}, "7-0"),
            K.index("processing"): ZSet({"j1": NOW - 500, "j2": NOW - 500}),
        },
        [outcome("succeeded", result="1", run=5),
         outcome("succeeded", job_id="j2", entry="7-0", run=3, stream="high", result="2")],
        [STALE, APPLIED],
        {
            **RUNNING,
            K.job("j2"): Ttl(running(run=3, entry="7-0", status="succeeded", result="2",
                                     finished=NOW), OK_TTL_MS // 1000),
            HIGH: Stream([], {}, "7-0"),
            K.index("succeeded"): ZSet({"j2": NOW}),
            K.events: events(event("j2", "processing", "succeeded", worker="w1")),
        },
        [], id="batch-one-code-per-outcome-each-in-its-stream",
    ),
]


@pytest.mark.parametrize(("before", "outcomes", "reply", "after", "published"), CASES)
async def test_finish(
    table: Table, publishes: Publishes, before: State, outcomes: list[Outcome],
    reply: list[FinishCode], after: State, published: list[tuple[str, str]],
) -> None:
    await table.check(before, lambda: table.store.finish(outcomes), reply, after)
    assert await publishes.taken() == published


async def test_store_finish_answers_in_input_order_across_queues(
    redis_client: Redis, store: Store
) -> None:
    other = QueueKeys("streamq", "q2")
    await seed(redis_client, {
        **RUNNING,
        other.job("j9"): running(entry="4-0"),
        other.stream("low"): Stream([("4-0", entry("j9"))], {"4-0": "w1"}, "4-0"),
    })

    def done(queue: str, priority: str, job_id: str, entry_id: bytes, run: int) -> Outcome:
        d = Delivery(queue, priority, entry_id, job_id, "email.send", b"{}", 30.0, 3, 1, 0, run)
        return Outcome(d, OutcomeKind.SUCCEEDED, result=b"1")

    codes = await store.finish([
        done("q2", "low", "j9", b"4-0", 1),
        done("q", "normal", "gone", b"3-0", 1),
        done("q", "normal", "j1", b"1-0", 1),
    ])
    assert codes == [1, -1, 1]
    assert await store.finish([]) == []
    state = await read_state(redis_client)
    assert state[other.stream("low")] == Stream([], {}, "4-0")
    assert state[NORMAL] == ACKED
    assert [state[k].value["status"] for k in (K.job("j1"), other.job("j9"))] == [
        "succeeded", "succeeded"
    ]
