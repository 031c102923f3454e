"""Cron actor: fires the ticks of the app's recurring jobs; every node runs one.

Exactly once: each tick goes through the `cron` script, which takes the tick only if it is
after the last one recorded for that cron, and writes the job in the same step. Nodes race
on every tick; one wins, the others see it taken.

Misfires: a tick that no node took within `cron_misfire_grace_ms` of its time was missed
while no node ran (or all were stuck). `skip` moves past the missed ticks without a job;
`run_once` fires one job for them all (at the latest missed tick). Later ticks fire as usual.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence

import anyio

from ..cron import CronJob
from ..registry import Registry
from ..requests import JobRequest, build_spec, destination
from ..shards import shard_name
from ..store import Store
from ..store.codes import CronCode

log = logging.getLogger("streamq.worker")

MAX_SLEEP_S = 5.0


class CronActor:
    """Sleeps until the next tick of any of its crons (Redis time), then takes what is due."""

    def __init__(
        self, registry: Registry, store: Store, crons: Sequence[CronJob], grace_ms: int
    ) -> None:
        self.registry = registry
        self.store = store
        self.crons = list(crons)
        self.grace_ms = grace_ms
        self.fired = 0

    async def run(self) -> None:
        if not self.crons:
            return
        while True:
            delay_s = await self.fire_once()
            await anyio.sleep(delay_s)

    async def fire_once(self) -> float:
        """Take every due tick; returns the seconds until the next one."""
        now = await self.store.redis_time_ms()
        by_queue: dict[str, list[CronJob]] = defaultdict(list)
        for cron in self.crons:
            by_queue[cron_home(self.registry, cron)].append(cron)
        next_due: list[int] = []
        for queue, crons in by_queue.items():
            lasts = await self.store.cron_last(queue, [c.name for c in crons])
            for cron, last in zip(crons, lasts, strict=True):
                if last is None:
                    last = await self.store.cron_begin(queue, cron.name, now)
                await self.catch_up(cron, last, now)
                next_due.append(cron.next_after(now))
        wait_ms = min(next_due) - now if next_due else MAX_SLEEP_S * 1000
        return min(MAX_SLEEP_S, max(0.001, wait_ms / 1000))

    async def catch_up(self, cron: CronJob, last: int, now: int) -> None:
        """Apply the misfire policy to ticks missed past the grace period, then fire the
        ticks in (last, now]."""
        if cron.next_after(last) > now:
            return
        horizon = now - self.grace_ms
        if cron.next_after(last) <= horizon:
            missed = cron.latest_until(horizon)
            run_once = cron.misfire == "run_once"
            code = await self.take(cron, missed, fire=run_once)
            if code in (CronCode.FIRED, CronCode.SKIPPED):
                log.warning(
                    "cron %s: ticks up to %d were missed while no node ran; %s",
                    cron.name, missed, "fired once" if run_once else "skipped",
                )
            last = max(last, missed)
        for tick in cron.ticks(last, now):
            await self.take(cron, tick, fire=True)

    async def take(self, cron: CronJob, tick: int, fire: bool) -> CronCode:
        spec = build_spec(self.registry, cron_request(cron))
        code, value = await self.store.cron_fire(spec, cron.name, tick, fire)
        if code is CronCode.FIRED:
            self.fired += 1
            log.debug("cron %s: tick %d fired job %s", cron.name, tick, value)
        elif code is CronCode.QUEUE_FULL:
            log.warning("cron %s: tick %d dropped: queue %s is over its backlog limit",
                        cron.name, tick, cron.queue)
        return code


def cron_request(cron: CronJob) -> JobRequest:
    """A tick's job; its partition key keeps every tick of the cron on one shard, where
    the cron's last tick is recorded (one script takes the tick and writes the job)."""
    return JobRequest(cron.type, cron.payload, priority=cron.priority, queue=cron.queue,
                      partition_key=f"cron:{cron.name}")


def cron_home(registry: Registry, cron: CronJob) -> str:
    """The shard holding a cron's last tick and receiving its jobs."""
    return shard_name(*destination(registry, cron_request(cron)))
