"""Node: one worker process's actors under one supervisor, joined by bounded streams."""

from __future__ import annotations

import functools
import logging
import os
import signal
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import anyio
from anyio.abc import TaskGroup

from ..ids import new_job_id
from ..job import Delivery, Outcome
from ..liveness import keep_touched
from ..metrics import declare_worker_series
from ..policy import PriorityOrder
from ..registry import Registry
from ..settings import Settings
from ..store import Store
from .channel import JobChannel
from .completer import Completer
from .cron import CronActor
from .executor import Executor
from .fetcher import Fetcher
from .heartbeat import Heartbeat
from .janitor import Janitor
from .limiter import Limiter
from .listener import Listener
from .reclaimer import Reclaimer
from .scheduler import Scheduler
from .state import NodeState, Slots
from .supervise import NodeCrashed, supervise

if TYPE_CHECKING:
    from ..history import HistoryArchive
    from ..tracing.spans import Tracing

log = logging.getLogger("streamq.worker")


class Backend(Protocol):
    """What a node runs on: the declared tasks and crons, and the store (an App is one)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def registry(self) -> Registry: ...

    @property
    def store(self) -> Store: ...

    @property
    def history_archive(self) -> HistoryArchive | None: ...
    tracing: Tracing | None
    """Spans of each attempt, when tracing is enabled (`streamq.tracing`)."""


class Node:
    """A worker node. `run()` returns the process exit code: 0 after a clean stop,
    1 when an actor crashed past its budget (so the orchestrator restarts the node)."""

    def __init__(
        self,
        app: Backend,
        *,
        concurrency: int | None = None,
        queues: Sequence[str] | None = None,
        priority_weights: dict[str, int] | None = None,
        burst: bool = False,
        grace_period_s: float | None = None,
        name: str | None = None,
        handle_signals: bool = False,
    ) -> None:
        s = app.settings
        self.app = app
        self.settings = s
        self.queues = list(queues or app.registry.queues)
        self.shards = app.registry.layout.expand(self.queues)
        """Every shard of every queue served: each actor below works per shard."""
        self.burst = burst
        self.grace_period_s = s.grace_period_s if grace_period_s is None else grace_period_s
        self.handle_signals = handle_signals
        name = name or f"{socket.gethostname()}:{os.getpid()}:{new_job_id()[-6:]}"
        self.state = NodeState(
            name=name,
            slots=Slots(concurrency or s.concurrency),
            lease_s=s.visibility_timeout_ms / 1000,
            limits={
                t.name: t.options.concurrency
                for t in app.registry.tasks.values()
                if t.options.concurrency
            },
        )
        self.order = PriorityOrder(priority_weights or s.priority_weights)
        served = [(t.options.queue, t.name) for t in app.registry.tasks.values()
                  if t.options.queue in self.queues]
        declare_worker_series(self.queues, served)
        self._store: Store | None = None
        self._fetch_scope = anyio.CancelScope()
        self._hard_stop = anyio.CancelScope()
        self.started = anyio.Event()
        self.completer: Completer | None = None

    @property
    def name(self) -> str:
        return self.state.name

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = self.app.store
        return self._store

    def stop(self) -> None:
        """Begin a graceful stop: no new fetches; in-flight jobs get the grace period."""
        self.state.stopping = True
        self._fetch_scope.cancel()

    def kill(self) -> None:
        """Stop at once: running handlers are cancelled and their entries handed back."""
        self.stop()
        self._hard_stop.cancel()

    async def run(self) -> int:
        crashed: list[NodeCrashed] = []
        try:
            async with anyio.create_task_group() as background:
                await self._start_background(background)
                self.started.set()
                await self._run_pipeline()
                # Shutdown order, last step: heartbeat, reclaimer, schedulers and listener
                # stop only now, so that leases stayed fresh while in-flight jobs finished.
                background.cancel_scope.cancel()
        except* NodeCrashed as group:
            crashed += [e for e in group.exceptions if isinstance(e, NodeCrashed)]
            log.error("node %s stops: %s", self.name, group.exceptions[0])
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                try:
                    await self.store.unregister_node(self.shards, self.name)
                except Exception as exc:
                    log.warning("could not unregister node %s: %s", self.name, exc)
        return 1 if crashed else 0

    async def _start_background(self, tg: TaskGroup) -> None:
        s = self.settings
        for queue in self.shards:
            await supervise("groups", functools.partial(self.store.ensure_groups, queue))
        heartbeat = Heartbeat(self.store, self.state, self.shards, s.heartbeat_interval_s,
                              {t.name: t.options.queue for t in self.app.registry.tasks.values()})
        await supervise("heartbeat", lambda: _discard(heartbeat.beat_once()))
        schedulers = {q: Scheduler(self.store, q) for q in self.shards}
        reclaimer = Reclaimer(
            self.store, self.state, self.shards, s.visibility_timeout_ms,
            s.reclaim_interval_ms / 1000,
        )
        listener = Listener(self.store, self.state, schedulers)
        tg.start_soon(supervise, "heartbeat", heartbeat.run)
        if s.liveness_file:  # a beat lasts at most a few socket timeouts unless it hangs
            stuck_s = 3 * s.redis_timeout_s
            tg.start_soon(keep_touched, s.liveness_file, s.liveness_interval_s,
                          lambda: not self.state.heartbeat_stuck(stuck_s))
        tg.start_soon(supervise, "reclaimer", reclaimer.run)
        tg.start_soon(supervise, "listener", listener.run)
        for queue, scheduler in schedulers.items():
            tg.start_soon(supervise, f"scheduler:{queue}", scheduler.run)
        self._start_control(tg)
        if self.handle_signals:
            tg.start_soon(self._watch_signals)

    def _start_control(self, tg: TaskGroup) -> None:
        """Job control actors: cron ticks, per-type concurrency slots, retention."""
        s = self.settings
        crons = [c for c in self.app.registry.crons.values() if c.queue in self.queues]
        cron = CronActor(self.app.registry, self.store, crons, s.cron_misfire_grace_ms)
        limiter = Limiter(
            self.store, self.state, self.shards, min(1.0, s.visibility_timeout_ms / 3000)
        )
        # Sweeping more often than the shortest retention finds nothing new; less often
        # lets short-lived records' index entries pile up between sweeps.
        janitor = Janitor(self.store, self.shards,
                          interval_s=min(30.0, s.result_ttl_s, s.failed_ttl_s))
        tg.start_soon(supervise, "cron", cron.run)
        tg.start_soon(supervise, "limiter", limiter.run)
        tg.start_soon(supervise, "janitor", janitor.run)
        self._start_history(tg)

    def _start_history(self, tg: TaskGroup) -> None:
        """With a history archive: keep its schema, and archive every queue's terminal jobs."""
        archive = self.app.history_archive
        if archive is None:
            return
        from ..history.health import ARCHIVE_HEALTH
        from .archiver import Archiver
        from .history_keeper import HistoryKeeper

        s = self.settings
        ARCHIVE_HEALTH.enabled = True
        tg.start_soon(supervise, "history-keeper", HistoryKeeper(archive, ARCHIVE_HEALTH).run)
        for queue in self.shards:
            archiver = Archiver(self.store, archive, ARCHIVE_HEALTH, queue, self.name,
                                s.history_batch_size, s.fetch_block_ms, s.visibility_timeout_ms)
            tg.start_soon(supervise, f"archiver:{queue}", archiver.run)

    async def _run_pipeline(self) -> None:
        """fetchers -> jobs channel -> executors -> outcomes channel -> completer.

        Shutdown order: (1) stop the fetchers; (2) executors finish what they hold within
        the grace period, then are cancelled; (3) the completer flushes every outcome;
        (4) entries still unfinished are handed back for immediate pickup elsewhere.
        """
        s = self.settings
        concurrency = self.state.slots.total
        jobs = JobChannel[Delivery]()
        out_send, out_recv = anyio.create_memory_object_stream[Outcome](
            max(2 * s.completion_batch_size, concurrency)
        )
        self.completer = Completer(
            self.store, self.state, s.completion_batch_size, s.completion_flush_ms
        )
        executor = Executor(self.app.registry, self.store, self.state, self.app.tracing)
        async with out_recv, anyio.create_task_group() as pipeline:
            pipeline.start_soon(supervise, "completer", lambda: self.completer_run(out_recv))
            with self._hard_stop:
                async with anyio.create_task_group() as executors:
                    for _ in range(concurrency):
                        executors.start_soon(executor.run, jobs, out_send.clone())
                    out_send.close()
                    try:
                        await self._fetch_until_stopped(jobs)  # (1)
                    finally:  # also when cancelled: executors end once they took the rest
                        jobs.close()
                    executors.start_soon(self._grace_timer, executors)  # (2)
        # (3) completer drains: every executor's outcome sender is closed by now.
        await self._hand_back_unfinished()  # (4)

    async def completer_run(self, out_recv: Any) -> None:
        assert self.completer is not None
        await self.completer.run(out_recv)

    async def _fetch_until_stopped(self, jobs: JobChannel[Delivery]) -> None:
        s = self.settings
        with self._fetch_scope:
            # One fetcher per shard: a blocking read names keys of one slot only, and a
            # fetcher of its own keeps every shard served whatever the others hold.
            async with anyio.create_task_group() as fetchers:
                for queue in self.shards:
                    fetcher = Fetcher(
                        self.store, self.state, queue, self.order, jobs,
                        s.fetch_block_ms, self.burst, self.app.tracing is not None,
                    )
                    fetchers.start_soon(supervise, f"fetcher:{queue}", fetcher.run)

    async def _grace_timer(self, executors: TaskGroup) -> None:
        """Cancel the executors once the grace period is over (they end sooner if idle)."""
        with anyio.move_on_after(self.grace_period_s):
            await self.state.slots.wait_idle()
            return
        log.warning("grace period over: cancelling %d running jobs", self.state.slots.busy)
        executors.cancel_scope.cancel()

    async def _hand_back_unfinished(self) -> None:
        held = list(self.state.held.values())
        if not held:
            return
        with anyio.CancelScope(shield=True), anyio.move_on_after(5):
            try:
                result = await self.store.hand_back(self.name, held)
                log.info("handed back %d unfinished jobs", result.requeued)
            except Exception as exc:
                log.warning("could not hand back %d jobs (%s); the reclaimer will", len(held),
                            exc)

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                if self.state.stopping:
                    log.warning("second signal: stopping now")
                    self.kill()
                else:
                    log.info("%s: finishing in-flight jobs, then stopping",
                             signal.Signals(signum).name)
                    self.stop()


async def _discard(awaitable: Any) -> None:
    await awaitable
