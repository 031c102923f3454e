"""The store: the only code that sends Redis commands.

One class per concern (producing, consuming, recovery, control, reads, nodes, limits,
retention), joined into `Store`. Every script call and pipeline is one round trip; script
return codes become typed values or errors here (`codes`), and every Redis failure is
classified once (`classify`): an outage leaves the store as `BackendUnavailable`.
"""

from __future__ import annotations

from .archive import Archive, ArchiveEntry, Backlog, ClaimResult
from .base import Clock
from .classify import translate_errors
from .consuming import Consuming
from .control import Control
from .limits import Limits
from .nodes import Nodes
from .producing import Producing
from .reads import Reads
from .recovery import Recovery
from .results import (
    DeadEntry,
    EnqueueResult,
    EnqueueSpec,
    FetchResult,
    PromoteResult,
    ReclaimResult,
    ReleaseResult,
)
from .retention import Retention
from .subscription import Subscription

__all__ = [
    "ArchiveEntry",
    "Backlog",
    "ClaimResult",
    "Clock",
    "DeadEntry",
    "EnqueueResult",
    "EnqueueSpec",
    "FetchResult",
    "PromoteResult",
    "ReclaimResult",
    "ReleaseResult",
    "Store",
    "Subscription",
]


@translate_errors
class Store(Producing, Consuming, Recovery, Control, Reads, Nodes, Limits, Retention, Archive):
    """Every transition and read of jobs in Redis."""

    def subscription(self) -> Subscription:
        """A pub/sub connection for cancellation requests and scheduler wake-ups."""
        return Subscription(self.redis.pubsub(ignore_subscribe_messages=True))
