"""Jobs put in flight by the real components, as a worker node does: enqueued through the
request validation and the store, fetched and started by a real fetcher (limited types
admitted or parked), held by the node's state."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import anyio

from streamq.job import Delivery, Outcome, OutcomeKind
from streamq.policy import PriorityOrder
from streamq.registry import Registry
from streamq.requests import JobRequest, build_spec
from streamq.store import Store
from streamq.worker.channel import JobChannel
from streamq.worker.fetcher import Fetcher
from streamq.worker.state import NodeState, Slots


def node_state(
    name: str = "w1", concurrency: int = 10, lease_s: float = 30.0,
    limits: Mapping[str, int] | None = None,
) -> NodeState:
    """The state of a node whose lease was just renewed."""
    state = NodeState(name=name, slots=Slots(concurrency), lease_s=lease_s,
                      limits=dict(limits or {}))
    state.renewed(time.monotonic())
    return state


async def enqueue(store: Store, *requests: JobRequest) -> list[str]:
    """Validate and write jobs (any type: no task is registered); returns their ids."""
    registry = Registry(store.settings)
    results = await store.enqueue([build_spec(registry, r) for r in requests])
    return [r.job_id for r in results]


async def take(store: Store, state: NodeState, queue: str = "default") -> list[Delivery]:
    """One fetch by the node of `state`, for as many jobs as it has free slots: the
    started ones come back (held, slots taken), parked ones do not."""
    free = state.slots.free
    assert free > 0, "the node has no free slot"
    channel = JobChannel[Delivery]()
    fetcher = Fetcher(store, state, queue, PriorityOrder(), channel, block_ms=1)
    await store.ensure_groups(queue)
    await fetcher.fetch_once()
    taken: list[Delivery] = []
    while True:
        try:
            taken.append(channel.receive_nowait())
        except anyio.WouldBlock:
            return taken


def outcome(d: Delivery, kind: OutcomeKind = OutcomeKind.SUCCEEDED, **fields: Any) -> Outcome:
    """What an executor would report for `d` (a result of `"ok"` when it succeeded)."""
    if kind is OutcomeKind.SUCCEEDED:
        fields.setdefault("result", b'"ok"')
    return Outcome(d, kind, **fields)
