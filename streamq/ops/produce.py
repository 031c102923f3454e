"""Writing validated jobs: through the tracer when tracing is on, counted when created."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import TYPE_CHECKING, TypeVar

from ..errors import StreamqError
from ..metrics import JOBS_ENQUEUED
from ..shards import queue_of
from ..store import EnqueueResult, EnqueueSpec

if TYPE_CHECKING:
    from ..tracing.spans import Tracing

T = TypeVar("T", EnqueueResult, EnqueueResult | StreamqError)


async def write(
    specs: list[EnqueueSpec],
    store_write: Callable[[list[EnqueueSpec]], Awaitable[list[T]]],
    tracing: Tracing | None,
    task_names: Collection[str],
) -> list[T]:
    """Store the jobs in one round trip (a producer span around it when tracing is on)
    and count the ones created; a type no task registers is `other`, so labels stay
    bounded."""
    if not specs:
        return []
    results = await (store_write(specs) if tracing is None else tracing.send(specs, store_write))
    for spec, result in zip(specs, results, strict=True):
        if isinstance(result, EnqueueResult) and result.created:
            task = spec.type if spec.type in task_names else "other"
            JOBS_ENQUEUED.labels(queue_of(spec.queue), task).inc()
    return results
