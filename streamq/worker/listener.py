"""Listener: one pub/sub connection carrying cancellation requests and scheduler wake-ups."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from ..store import Store
from .scheduler import Scheduler
from .state import NodeState

log = logging.getLogger("streamq.worker")


class Listener:
    """Cancels running jobs named on the cancel channel; pokes schedulers on wake-ups.

    Pub/sub may miss messages while reconnecting: schedulers still wake on their own
    (at most every few seconds), and a cancelled job's outcome never overwrites
    `cancelled`, so a missed message delays but never corrupts.
    """

    def __init__(
        self, store: Store, state: NodeState, schedulers: Mapping[str, Scheduler]
    ) -> None:
        self.store = store
        self.state = state
        self.by_channel = {
            store.keys(queue).wake_channel.encode(): s for queue, s in schedulers.items()
        }

    async def run(self) -> None:
        subscription = self.store.subscription()
        try:
            await subscription.subscribe(self.store.cancel_channel, *self.by_channel)
            await self.recheck()
            for scheduler in self.by_channel.values():
                scheduler.poke()  # anything published while we were away
            cancel = self.store.cancel_channel.encode()
            while True:
                message = await subscription.next_message(timeout=1.0)
                if message is None:
                    continue
                channel, data = message
                if channel == cancel:
                    self.cancel(data.decode())
                elif channel in self.by_channel:
                    self.by_channel[channel].poke()
        finally:
            await subscription.close()

    def cancel(self, job_id: str) -> bool:
        scope = self.state.running.get(job_id)
        if scope is None:
            return self._cancel_before_start(job_id)
        log.info("cancelling running job %s", job_id)
        scope.cancel()
        return True

    def _cancel_before_start(self, job_id: str) -> bool:
        """A job fetched and marked processing whose handler has not begun yet: the
        executor cancels it as soon as it registers (requests older than a minute are
        forgotten, so jobs that never ran do not accumulate)."""
        if not any(d.job_id == job_id for d in self.state.held.values()):
            return False
        now = time.monotonic()
        pending = self.state.cancel_requested
        for stale in [j for j, at in pending.items() if now - at > 60]:
            del pending[stale]
        pending[job_id] = now
        return True

    async def recheck(self) -> int:
        """Cancel running jobs whose record already says `cancelled`: a request published
        while this node was not subscribed is lost, the record is not."""
        running = {d.job_id: d.queue for d in self.state.held.values()
                   if d.job_id in self.state.running}
        if not running:
            return 0
        statuses = await self.store.job_statuses(list(running.items()))
        cancelled = [j for j, st in zip(running, statuses, strict=True) if st == "cancelled"]
        return sum(1 for job_id in cancelled if self.cancel(job_id))
