"""Scenario 9: delayed jobs promoted by two worker nodes whose wall clocks are 2 minutes
ahead and 2 minutes behind. Every job is promoted exactly once and none starts before it is
due by Redis time: promotion is decided inside the promote script, on Redis's clock.

The skew comes from libfaketime (LD_PRELOAD, every clock call of the process) when it is
installed (`apt install faketime`; CI installs it), else from tests/support/skewed.py."""

from __future__ import annotations

import glob
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from redis.asyncio import Redis

from streamq import App, Event, JobRequest, Settings
from streamq.devredis import RedisServer
from streamq.keys import QueueKeys
from tests.support.checker import check_run
from tests.support.ledger import read_ledger
from tests.support.observe import wait_terminal
from tests.support.procs import WorkerProcess
from tests.support.report import Size, record, sizes

pytestmark = pytest.mark.chaos

K = QueueKeys("streamq", "default")
SKEW_S = 120


def _skewed(skew_s: int) -> dict[str, object]:
    """Options of a worker whose wall clock is `skew_s` off."""
    lib = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if lib:
        return {"env": {"LD_PRELOAD": lib[0], "FAKETIME": f"{skew_s:+d}s",
                        "FAKETIME_DONT_FAKE_MONOTONIC": "1"}}
    return {"env": {"STREAMQTEST_SKEW_S": str(skew_s)}, "module": "tests.support.skewed"}


@pytest.mark.parametrize(
    "size", sizes(ci={"jobs": 60, "max_delay_s": 10}, soak={"jobs": 1000, "max_delay_s": 20})
)
async def test_skewed_schedulers_promote_each_job_once_and_never_early(
    size: Size,
    redis_servers: Callable[..., RedisServer],
    workers: Callable[..., WorkerProcess],
    ledger_path: Path,
) -> None:
    server = redis_servers("everysec")
    ahead = workers(server.url, concurrency=50, **_skewed(+SKEW_S))
    behind = workers(server.url, concurrency=50, **_skewed(-SKEW_S))
    rng = random.Random(9)
    app = App(Settings(redis_url=server.url))
    try:
        async with Redis.from_url(server.url) as redis:
            with anyio.fail_after(20):
                while await redis.zcard(K.workers) < 2:
                    await anyio.sleep(0.1)
            requests = [
                JobRequest("ledger.work", {"seconds": 0},
                           delay=rng.uniform(1, size["max_delay_s"]))
                for _ in range(size["jobs"])
            ]
            ids = [r.job_id for r in await app.enqueue_many(requests)]
            await wait_terminal(redis, ids, size["max_delay_s"] + 15)
            ledger = read_ledger(ledger_path)
            report = await check_run(redis, ids, ledger)
            pipe = redis.pipeline(transaction=False)
            for job_id in ids:
                pipe.hmget(K.job(job_id), ["due", "started", "run"])
            records = dict(zip(ids, await pipe.execute(), strict=True))
            promotions = Counter(
                e.job_id for i, f in await redis.xrange(K.events)
                for e in Event.from_entry("default", i, f)
                if e.from_status == "scheduled" and e.to_status == "queued"
            )
    finally:
        await app.close()

    early = [j for j, (due, started, _) in records.items() if int(started) < int(due)]
    lateness = [(int(started) - int(due)) / 1000 for due, started, _ in records.values()]
    # The handlers' ledger times are their own (skewed) wall clocks: proof of the skew.
    started_at = {j: int(rec[1]) for j, rec in records.items()}
    skews = {
        pid: sorted(round((x.time_ms - started_at[x.job_id]) / 1000) for x in ledger
                    if x.pid == pid and x.event == "start")
        for pid in (ahead.pid, behind.pid)
    }
    figures = {
        **report.summary(),
        "jobs": len(ids),
        "early_starts": len(early),
        "promotions_per_job": dict(Counter(promotions[j] for j in ids)),
        "runs_per_job": dict(Counter(int(rec[2]) for rec in records.values())),
        "lateness_max_s": round(max(lateness), 3),
        "ran_on": {"ahead": len(skews[ahead.pid]), "behind": len(skews[behind.pid])},
        "worker_clock_skew_s": {"ahead": _median(skews[ahead.pid]),
                                "behind": _median(skews[behind.pid])},
    }
    record("9-clock-skew", size, figures)
    report.assert_clean()
    assert report.duplicates == 0 and not early, figures
    assert all(promotions[j] == 1 for j in ids), figures
    assert all(int(rec[2]) == 1 for rec in records.values()), figures
    assert max(lateness) <= 1.0, figures
    assert skews[ahead.pid] and skews[behind.pid], "both skewed nodes ran jobs"
    assert abs(_median(skews[ahead.pid]) - SKEW_S) <= 2, figures
    assert abs(_median(skews[behind.pid]) + SKEW_S) <= 2, figures


def _median(values: list[int]) -> int:
    return values[len(values) // 2] if values else 0
