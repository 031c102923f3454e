"""Bulk actions on dead letters (requeue or delete a selection, or everything a filter
matches), run in bounded batches in the background with their progress kept in memory.

Each batch is one store round trip per queue (`requeue_many`, `dlq_delete`); a filter is
re-read from its newest end after every batch, since the handled entries leave the
dead-letter queue. Progress lives in the API process that started it: with several API
replicas, a progress page is only found on that one.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from ...app import App
from ...errors import InvalidTransition, JobNotFound, StreamqError
from ...job import DeadLetter
from ...store.codes import DlqDeleteCode, RequeueCode
from .data import DeadFilter

log = logging.getLogger("streamq.console")

BATCH = 200
KEEP_FINISHED = 50


@dataclass
class BulkAction:
    """One bulk action and how far it got."""

    id: str
    kind: str  # "requeue" or "delete"
    description: str
    expected: int
    done: int = 0
    skipped: int = 0
    batches: int = 0
    state: str = "running"  # running | finished | failed
    error: str = ""
    started: float = field(default_factory=time.time)
    finished: float | None = None

    @property
    def percent(self) -> int:
        if self.state == "finished":
            return 100
        return min(99, int(100 * (self.done + self.skipped) / max(1, self.expected)))


class BulkRunner:
    """Starts bulk actions as tasks of the server's loop and remembers the recent ones."""

    def __init__(self) -> None:
        self.actions: dict[str, BulkAction] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def get(self, action_id: str) -> BulkAction | None:
        return self.actions.get(action_id)

    def start_filter(self, app: App, kind: str, f: DeadFilter, expected: int) -> BulkAction:
        what = ", ".join(f"{k}={v}" for k, v in f.query().items()) or "every dead letter"
        action = self._new(kind, f"{kind} all matching {what}", expected)
        self._spawn(self._run_filter(app, action, f))
        return action

    def start_selection(self, app: App, kind: str, job_ids: Sequence[str]) -> BulkAction:
        action = self._new(kind, f"{kind} {len(job_ids)} selected", len(job_ids))
        self._spawn(self._run_selection(app, action, list(job_ids)))
        return action

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _new(self, kind: str, description: str, expected: int) -> BulkAction:
        if kind not in ("requeue", "delete"):
            raise ValueError(kind)
        finished = [a for a in self.actions.values() if a.state != "running"]
        for old in sorted(finished, key=lambda a: a.started)[:-KEEP_FINISHED or None]:
            if len(finished) > KEEP_FINISHED:
                del self.actions[old.id]
        action = BulkAction(secrets.token_hex(8), kind, description, expected)
        self.actions[action.id] = action
        return action

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[call-overload]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_filter(self, app: App, action: BulkAction, f: DeadFilter) -> None:
        async def batches() -> list[DeadLetter]:
            page = await app.dlq_list(queue=f.queue, type=f.type, fingerprint=f.fingerprint,
                                      limit=BATCH)
            return page.entries

        await self._run(app, action, batches, bound=action.expected + BATCH)

    async def _run_selection(self, app: App, action: BulkAction, job_ids: list[str]) -> None:
        """A selection is at most a page of the console: one library call per job."""
        try:
            for i in range(0, len(job_ids), BATCH):
                for job_id in job_ids[i:i + BATCH]:
                    try:
                        if action.kind == "requeue":
                            await app.dlq_retry(job_id)
                        else:
                            await app.dlq_delete(job_id)
                        action.done += 1
                    except (JobNotFound, InvalidTransition):
                        action.skipped += 1  # left the dead-letter queue meanwhile
                action.batches += 1
            action.state = "finished"
        except StreamqError as exc:
            action.state, action.error = "failed", exc.message
        finally:
            action.finished = time.time()

    async def _run(self, app: App, action: BulkAction, next_batch: object, bound: int) -> None:
        get = next_batch  # a coroutine function returning the next entries
        try:
            while action.done + action.skipped < bound:
                letters: list[DeadLetter] = await get()  # type: ignore[operator]
                if not letters:
                    break
                applied = await _apply(app, action.kind, letters)
                action.done += applied
                action.skipped += len(letters) - applied
                action.batches += 1
                if applied == 0:
                    break  # nothing moved: stop rather than spin on the same entries
            action.state = "finished"
        except StreamqError as exc:
            action.state, action.error = "failed", exc.message
        except Exception as exc:  # a defect: logged, shown, never silent
            log.exception("bulk %s failed", action.kind)
            action.state, action.error = "failed", str(exc)
        finally:
            action.finished = time.time()


async def _apply(app: App, kind: str, letters: list[DeadLetter]) -> int:
    """One batch: one store call per queue. Returns how many jobs it moved."""
    by_queue: dict[str, list[DeadLetter]] = defaultdict(list)
    for d in letters:
        by_queue[d.shard_queue].append(d)
    moved = 0
    for queue, mine in by_queue.items():
        if kind == "requeue":
            codes = await app.store.requeue_many(queue, [(d.job_id, d.entry_id) for d in mine])
            moved += codes.count(RequeueCode.REQUEUED)
        else:
            deleted = await app.store.dlq_delete(queue, [
                (d.entry_id, d.job_id, d.type, str(round(d.failed_at.timestamp() * 1000)))
                for d in mine
            ])
            moved += deleted.count(DlqDeleteCode.DELETED)
    return moved
