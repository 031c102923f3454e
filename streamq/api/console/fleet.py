"""The console's nodes and cron pages: what each live node and each declared cron shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ...app import App
from ...job import ms_to_datetime
from ...store.console import ConsoleStore, NodeInfo
from ...worker.cron import cron_home
from .data import Cell, redis_cli


@dataclass(frozen=True)
class NodeView:
    name: str
    queues: list[str]
    heartbeat_age_s: Cell
    in_flight: Cell
    concurrency: Cell
    leases_lost: Cell
    host: str
    pid: int


async def nodes(app: App) -> list[NodeView]:
    console = ConsoleStore(app.store)
    now_ms = await app.store.redis_time_ms()
    seen: dict[str, tuple[NodeInfo, list[str]]] = {}
    for queue in app.queues:
        for n in await console.nodes(queue):
            if n.name in seen:
                seen[n.name][1].append(queue)
            else:
                seen[n.name] = (n, [queue])
    views = []
    for name, (n, queues) in sorted(seen.items()):
        k = app.store.keys(queues[0])
        info_cmd = redis_cli("HGET", k.worker_info, name)
        views.append(NodeView(
            name=name, queues=queues,
            heartbeat_age_s=Cell(max(0.0, (now_ms - n.heartbeat_ms) / 1000),
                                 redis_cli("ZSCORE", k.workers, name)),
            in_flight=Cell(int(n.info.get("in_flight", 0)), info_cmd),
            concurrency=Cell(int(n.info.get("concurrency", 0)), info_cmd),
            leases_lost=Cell(int(n.info.get("leases_lost", 0)), info_cmd),
            host=str(n.info.get("host", "")), pid=int(n.info.get("pid", 0)),
        ))
    return views


@dataclass(frozen=True)
class CronView:
    name: str
    expr: str
    timezone: str
    type: str
    queue: str
    misfire: str
    last_tick: datetime | None
    next_tick: datetime
    command: str


async def crons(app: App) -> list[CronView]:
    now_ms = await app.store.redis_time_ms()
    views = []
    homes = {c.name: cron_home(app.registry, c) for c in app.crons.values()}
    for queue in dict.fromkeys(homes.values()):
        mine = [c for c in app.crons.values() if homes[c.name] == queue]
        lasts = await app.store.cron_last(queue, [c.name for c in mine])
        cmd = redis_cli("HGETALL", app.store.keys(queue).cron)
        for c, last in zip(mine, lasts, strict=True):
            views.append(CronView(
                c.name, c.expr, c.timezone, c.type, c.queue, c.misfire,
                ms_to_datetime(last),
                ms_to_datetime(c.next_after(max(now_ms, last or 0))) or datetime.now(UTC),
                cmd,
            ))
    return sorted(views, key=lambda v: v.name)


