"""Listener: one pub/sub connection carrying cancellation requests and scheduler wake-ups."""

from __future__ import annotations

import logging
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
        pubsub = self.store.pubsub()
        try:
            await pubsub.subscribe(self.store.cancel_channel, *self.by_channel)
            for scheduler in self.by_channel.values():
                scheduler.poke()  # anything published while we were away
            cancel = self.store.cancel_channel.encode()
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                channel, data = message["channel"], message["data"]
                if channel == cancel:
                    self.cancel(data.decode())
                elif channel in self.by_channel:
                    self.by_channel[channel].poke()
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    def cancel(self, job_id: str) -> bool:
        scope = self.state.running.get(job_id)
        if scope is None:
            return False
        log.info("cancelling running job %s", job_id)
        scope.cancel()
        return True
