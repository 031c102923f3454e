"""Run a worker node inside the test's event loop, stopped gracefully on exit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio

from streamq import App
from streamq.worker import Node


@asynccontextmanager
async def running_node(app: App, **options: Any) -> AsyncIterator[Node]:
    """A started node; on exit it stops (grace period) and must exit with code 0."""
    node = Node(app, **options)
    codes: list[int] = []

    async def run() -> None:
        codes.append(await node.run())

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        with anyio.fail_after(10):
            await node.started.wait()
        try:
            yield node
        finally:
            node.stop()
    assert codes == [0], f"node exited with {codes}"
