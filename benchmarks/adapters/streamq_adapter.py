"""streamq under the common harness: the public API only (App, enqueue, Node)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import harness
from .harness import Config


class StreamqAdapter:
    batch_api = True

    def __init__(self) -> None:
        from streamq import App, Settings

        self._app_cls, self._settings_cls = App, Settings
        self.app: Any = None

    def _make_app(self, cfg: Config) -> Any:
        app = self._app_cls(self._settings_cls(redis_url=cfg.url))

        @app.task(harness.TASK_NAME)
        async def noop(i: int, t: float, pad: str) -> None:
            await harness.handle(i, t)

        return app

    def describe(self, cfg: Config) -> dict[str, Any]:
        return {
            "worker": "streamq.worker.Node(app, concurrency=C), one per process "
            "(what `streamq worker -c C` runs)",
            "settings": "defaults (completion batch 200 / 2 ms, events stream on)",
            "batch enqueue": "App.enqueue_many([JobRequest, ...]), chunks of 1000",
        }

    async def connect(self, cfg: Config) -> None:
        self.app = self._make_app(cfg)

    async def enqueue(self, i: int) -> None:
        await self.app.enqueue(harness.TASK_NAME, harness.payload(i))

    async def enqueue_batch(self, ids: range) -> None:
        from streamq import JobRequest

        await self.app.enqueue_many(
            [JobRequest(harness.TASK_NAME, harness.payload(i)) for i in ids]
        )

    async def close(self) -> None:
        await self.app.close()

    def prepare_worker(self, cfg: Config) -> Callable[[], None]:
        import anyio

        from streamq.worker import Node

        app = self._make_app(cfg)

        async def run() -> None:
            # Built inside the loop: Node() creates anyio primitives that need one.
            node = Node(app, concurrency=cfg.concurrency)
            try:
                await node.run()
            finally:
                await app.close()

        return lambda: anyio.run(run)


if __name__ == "__main__":
    harness.main(StreamqAdapter())
