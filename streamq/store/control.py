"""Control: cancel, requeue, dead-letter deletion and pause, with script codes turned into
typed errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import InvalidTransition, JobNotFound
from .base import StoreBase
from .classify import translate_errors
from .codes import CancelCode, DlqDeleteCode, RequeueCode
from .results import as_str


@translate_errors
class Control(StoreBase):
    """Changes an operator asks for."""

    async def cancel(self, queue: str, job_id: str) -> str:
        """Cancel a job that has not finished; returns its previous status. Raises
        JobNotFound (no record) or InvalidTransition (already finished)."""
        k = self.keys(queue)
        s = self.settings
        reply = await self.scripts.cancel(
            keys=[
                k.job(job_id),
                k.scheduled,
                k.index("scheduled"),
                k.index("queued"),
                k.index("processing"),
                k.index("retrying"),
                k.index("cancelled"),
                k.events,
                k.archive,
            ],
            args=[
                self.now_arg(), s.failed_ttl_s * 1000, s.events_max_entries,
                self.cancel_channel, job_id, self.archive_maxlen,
            ],
        )
        code, status = CancelCode(int(reply[0])), as_str(reply[1])
        if code is CancelCode.NO_RECORD:
            raise JobNotFound(f"no job {job_id!r}", job_id=job_id)
        if code is CancelCode.ALREADY_FINISHED:
            raise InvalidTransition(
                f"job {job_id} is already {status}; only unfinished jobs can be cancelled",
                job_id=job_id, status=status,
            )
        return status

    async def requeue(
        self, queue: str, job_id: str, dead_entries: Sequence[bytes] = ()
    ) -> str:
        """Give a failed or cancelled job a fresh attempt budget under the same id, and
        remove the given dead-letter entries; returns its previous status. Raises
        JobNotFound (no record) or InvalidTransition (not failed or cancelled)."""
        k = self.keys(queue)
        reply = await self.scripts.requeue(
            keys=self._requeue_keys(queue, job_id),
            args=[self.now_arg(), self.settings.events_max_entries, job_id, k.wake_channel,
                  *dead_entries],
        )
        code, status = RequeueCode(int(reply[0])), as_str(reply[1])
        if code is RequeueCode.NO_RECORD:
            raise JobNotFound(f"no job {job_id!r}", job_id=job_id)
        if code is RequeueCode.NOT_RETRYABLE:
            raise InvalidTransition(
                f"job {job_id} is {status}; only failed or cancelled jobs can be retried",
                job_id=job_id, status=status,
            )
        return status

    async def requeue_many(
        self, queue: str, jobs: Sequence[tuple[str, str]]
    ) -> list[RequeueCode]:
        """Requeue (job id, dead-letter entry id) pairs in one round trip."""
        if not jobs:
            return []
        k = self.keys(queue)
        pipe = self.redis.pipeline(transaction=False)
        for job_id, entry_id in jobs:
            await self.scripts.requeue(
                keys=self._requeue_keys(queue, job_id),
                args=[self.now_arg(), self.settings.events_max_entries, job_id,
                      k.wake_channel, entry_id],
                client=pipe,
            )
        return [RequeueCode(int(r[0])) for r in await self._execute(pipe)]

    def _requeue_keys(self, queue: str, job_id: str) -> list[str]:
        k = self.keys(queue)
        return [k.job(job_id), *k.streams, k.dead, k.index("failed"), k.index("cancelled"),
                k.index("queued"), k.events, k.scheduled, k.index("scheduled")]

    async def dlq_delete(
        self, queue: str, entries: Sequence[tuple[str, str, str, str]]
    ) -> list[DlqDeleteCode]:
        """Remove dead-letter entries (entry id, job id, type, time); the job of a live one
        is deleted with them."""
        if not entries:
            return []
        k = self.keys(queue)
        keys = [k.dead, k.index("failed"), k.index_all, k.events]
        args: list[Any] = [self.now_arg(), self.settings.events_max_entries]
        for entry_id, job_id, job_type, time_ms in entries:
            keys += [k.job(job_id), k.index_type(job_type)]
            args += [job_id, entry_id, time_ms]
        reply = await self.scripts.dlq_delete(keys=keys, args=args)
        return [DlqDeleteCode(int(c)) for c in reply]

    async def set_paused(self, queue: str, priorities: Sequence[str], paused: bool) -> list[str]:
        """Pause or resume priorities of a queue; returns the paused ones after."""
        reply = await self.scripts.pause(
            keys=[self.keys(queue).paused],
            args=[self.now_arg(), "pause" if paused else "resume", *priorities],
        )
        return [as_str(p) for p in reply]
