"""A blocking producer for code outside asyncio: Django and Flask views, scripts, threads.

`SyncClient` runs its own event loop in one daemon thread and hands every call to it,
so it is safe from any number of threads at once, including the thread pool of a running
event loop (`run_in_executor`, `asgiref.sync_to_async`). It talks to Redis through its
own connection pool: an asyncio client belongs to the loop that made it. Calling it from
an event loop's own thread would block that loop, so it refuses: `await app.enqueue()`
there instead.

`app.sync()` is the App's shared client (one per process: after a fork, the child makes
its own, since threads do not survive a fork).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
import weakref
from collections.abc import Coroutine, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from .job import Job
from .requests import JobRequest
from .store import EnqueueResult

if TYPE_CHECKING:
    from .app import App

T = TypeVar("T")

CLOSE_TIMEOUT_S = 5.0


class SyncClient:
    """Enqueue, look up, cancel and wait for jobs with plain blocking calls."""

    def __init__(self, app: App) -> None:
        from .app import App

        self._app = App(app.settings)  # same settings and tasks, a connection of its own
        self._app.registry = app.registry
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="streamq-sync")
        self._thread.start()
        self._closed = False

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise RuntimeError("this SyncClient is closed")
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass  # no loop in this thread: blocking is fine
        else:
            coro.close()
            raise RuntimeError("a blocking streamq call from inside a running event loop "
                               "would stall it: use `await app.enqueue(...)` there")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def enqueue(
        self,
        type: str,
        payload: dict[str, Any] | None = None,
        *,
        priority: str | None = None,
        delay: float | timedelta | None = None,
        run_at: datetime | float | None = None,
        max_retries: int | None = None,
        timeout: float | None = None,
        idempotency_key: str | None = None,
        queue: str | None = None,
        partition_key: str | None = None,
    ) -> str:
        """As `App.enqueue`: validate and store one job; returns its id."""
        return self._call(self._app.enqueue(
            type, payload, priority=priority, delay=delay, run_at=run_at,
            max_retries=max_retries, timeout=timeout, idempotency_key=idempotency_key,
            queue=queue, partition_key=partition_key))

    def enqueue_many(self, requests: Iterable[JobRequest]) -> list[EnqueueResult]:
        """As `App.enqueue_many`: validate every job, then store them in one round trip."""
        return self._call(self._app.enqueue_many(list(requests)))

    def get_job(self, job_id: str) -> Job:
        return self._call(self._app.get_job(job_id))

    def cancel(self, job_id: str) -> Job:
        return self._call(self._app.cancel(job_id))

    def wait_for(self, job_id: str, timeout_s: float = 30.0) -> Job:
        """As `App.wait_for`: block until the job ends, woken by its events."""
        return self._call(self._app.wait_for(job_id, timeout_s))

    def close(self) -> None:
        """Close the connections and stop the loop's thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        future = asyncio.run_coroutine_threadsafe(self._app.close(), self._loop)
        try:
            future.result(CLOSE_TIMEOUT_S)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(CLOSE_TIMEOUT_S)
            if not self._thread.is_alive():
                self._loop.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_shared: weakref.WeakKeyDictionary[App, tuple[int, SyncClient]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def shared_client(app: App) -> SyncClient:
    """The app's client for this process, made on first use (closed at exit)."""
    with _lock:
        found = _shared.get(app)
        if found is not None and found[0] == os.getpid():
            return found[1]
        client = SyncClient(app)
        _shared[app] = (os.getpid(), client)
        atexit.register(client.close)
        return client
