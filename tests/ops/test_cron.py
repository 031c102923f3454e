"""Cron: declarations checked up front; each tick fires exactly once across nodes; the
misfire policy for ticks missed while no node ran; two worker processes for 10 s."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import anyio
import pytest
from redis.asyncio import Redis

from streamq import App, ConfigurationError, Settings
from streamq.cron import CronJob
from streamq.store.codes import CronCode
from streamq.worker.cron import CronActor
from tests.support.clock import redis_ms
from tests.support.ledger import counts, read_ledger
from tests.support.nodes import running_node
from tests.support.procs import WorkerProcess
from tests.support.redis_state import snapshot


def ms(*args: int) -> int:
    return round(datetime(*args, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("* * *", "expected 5 fields"),
        ("* * * * * * *", "expected 5 fields"),
        ("61 * * * *", "bad cron expression"),
        ("a b c d e", "bad cron expression"),
        ("0 0 31 2 *", "bad cron expression"),  # never fires
        ("", "non-empty"),
    ],
)
async def test_bad_expression_is_refused_at_declaration(
    app: App, redis_client: Redis, expr: str, message: str
) -> None:
    before = await snapshot(redis_client)
    with pytest.raises(ConfigurationError, match=message):

        @app.cron(expr, name="report")
        async def report() -> None: ...

    assert app.tasks == {} and app.crons == {}
    assert await snapshot(redis_client) == before


def test_other_bad_declarations(app: App) -> None:
    @app.task("send")
    async def send(to: str) -> None: ...

    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: app.add_cron("* * * * *", "nope"), "no task named 'nope'"),
        (lambda: app.add_cron("* * * * *", "send"), "payload does not match"),
        (lambda: app.add_cron("* * * * *", "send", payload={"to": 1}), "payload"),
        (lambda: app.add_cron("* * * * *", "send", payload={"to": "a"}, timezone="Mars/Olympus"),
         "unknown time zone"),
        (lambda: app.add_cron("* * * * *", "send", payload={"to": "a"}, misfire="sometimes"),
         "misfire must be one of"),
        (lambda: app.add_cron("* * * * *", "send", payload={"to": "a"}, priority="asap"),
         "unknown priority"),
    ]
    for declare, message in cases:
        with pytest.raises(ConfigurationError, match=message):
            declare()
    with pytest.raises(ConfigurationError, match="unknown time zone"):

        @app.cron("* * * * *", name="tz", timezone="Nowhere")
        async def tz() -> None: ...

    assert set(app.tasks) == {"send"} and app.crons == {}
    cron = app.add_cron("*/5 * * * *", send, payload={"to": "a"}, misfire="run once")
    assert (cron.name, cron.misfire, cron.queue) == ("send", "run_once", "default")
    with pytest.raises(ConfigurationError, match="declared twice"):
        app.add_cron("* * * * *", "send", payload={"to": "a"})


def test_schedule_arithmetic_with_seconds_and_time_zones() -> None:
    every_5s = CronJob("c", "*/5 * * * * *", "t", {}, "UTC", "skip", "q")
    t0 = ms(2026, 1, 1, 12, 0, 0)
    assert every_5s.next_after(t0) == t0 + 5000
    assert every_5s.next_after(t0 + 1) == t0 + 5000
    assert every_5s.latest_until(t0) == t0
    assert every_5s.latest_until(t0 + 4999) == t0
    assert every_5s.ticks(t0, t0 + 20_000) == [t0 + 5000 * i for i in range(1, 5)]
    paris = CronJob("p", "30 2 * * *", "t", {}, "Europe/Paris", "skip", "q")
    # 02:30 does not exist on the spring-forward night; the next day it is 00:30 UTC
    assert paris.next_after(ms(2026, 3, 28, 12, 0, 0)) == ms(2026, 3, 29, 1, 0, 0)
    assert paris.next_after(ms(2026, 3, 29, 12, 0, 0)) == ms(2026, 3, 30, 0, 30, 0)


def actor(app: App, grace_ms: int = 5000) -> CronActor:
    return CronActor(app.registry, app.store, list(app.crons.values()), grace_ms)


async def ticks_of(app: App, redis: Redis, name: str = "tick") -> list[int]:
    k = app.store.keys("default")
    ids = [j.id for j in (await app.list_jobs(type=name, limit=1000)).jobs]
    return sorted([int(await redis.hget(k.job(j), "tick") or 0) for j in ids])


async def test_each_tick_fires_once_however_many_nodes_race(
    app: App, redis_client: Redis
) -> None:
    @app.cron("* * * * * *", name="tick")
    async def tick() -> None: ...

    now = await redis_ms(redis_client)
    start = now - now % 1000 - 3000
    await app.redis.hset(app.store.keys("default").cron, "tick", start)
    actors = [actor(app) for _ in range(5)]
    async with anyio.create_task_group() as tg:
        for a in actors:
            tg.start_soon(a.catch_up, app.crons["tick"], start, now)
    assert await ticks_of(app, redis_client) == [start + 1000, start + 2000, start + 3000]
    assert sum(a.fired for a in actors) == 3
    cron = app.crons["tick"]
    assert await actors[0].take(cron, start + 2000, fire=True) == CronCode.TAKEN


@pytest.mark.parametrize(("misfire", "extra"), [("skip", 0), ("run_once", 1)])
async def test_misfire_policy_for_ticks_missed_while_no_node_ran(
    app: App, redis_client: Redis, misfire: str, extra: int
) -> None:
    @app.cron("* * * * * *", name="tick", misfire=misfire)
    async def tick() -> None: ...

    now = await redis_ms(redis_client)
    now -= now % 1000
    last = now - 60_000  # every node was down for a minute
    await app.redis.hset(app.store.keys("default").cron, "tick", last)
    await actor(app, grace_ms=5000).catch_up(app.crons["tick"], last, now)
    fired = await ticks_of(app, redis_client)
    recent = [now - 4000 + 1000 * i for i in range(5)]  # within the grace: all fire
    assert fired == ([now - 5000] if extra else []) + recent
    k = app.store.keys("default")
    assert int(await redis_client.hget(k.cron, "tick") or 0) == now


async def test_new_cron_starts_now_and_fires_in_a_node(app: App, redis_client: Redis) -> None:
    runs: list[float] = []

    @app.cron("* * * * * *", name="tick")
    async def tick() -> None:
        runs.append(time.time())

    a = actor(app)
    assert 0 < await a.fire_once() <= 1.0
    assert await ticks_of(app, redis_client) == []  # nothing fires for the past
    async with running_node(app, concurrency=2):
        await anyio.sleep(2.5)
    ticks = await ticks_of(app, redis_client)
    assert len(ticks) >= 2 and len(runs) >= 2
    assert [b - a for a, b in pairwise(ticks)] == [1000] * (len(ticks) - 1)


async def test_two_worker_processes_fire_each_tick_once_for_10_s(
    redis_url: str, settings_for: Callable[..., Settings], tmp_path: Path, redis_client: Redis
) -> None:
    ledger = tmp_path / "ledger"
    env = {"STREAMQTEST_CRON": "1"}
    workers = [
        WorkerProcess(redis_url, app_spec="tests.ops.tasks:app", ledger=ledger,
                      concurrency=4, env=env).start()
        for _ in range(2)
    ]
    app = App(settings_for())
    try:
        await anyio.sleep(10)
        for w in workers:
            assert w.terminate() == 0
        ticks = await ticks_of(app, redis_client, "control.tick")
        assert len(ticks) >= 8, ticks
        assert len(ticks) == len(set(ticks)), "a tick fired twice"
        assert [b - a for a, b in pairwise(ticks)] == [1000] * (
            len(ticks) - 1
        ), "a tick is missing"
        assert len(counts(read_ledger(ledger), "tick")) >= len(ticks) - 2
    finally:
        for w in workers:
            w.stop()
        await app.close()
