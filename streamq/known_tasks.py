"""Checking a job's type without the application's code: against the tasks that the live
workers of its queue announce.

The CLI has no App when it runs without `--app`; it still refuses a type no live worker
runs (a typo would otherwise be accepted and dead-lettered as `unknown task`), names the
closest one, and routes a known type to the queue its workers declared for it. The
payload itself is checked by the worker (a bad one is dead-lettered as `invalid payload`,
and logged); `--app` checks it at enqueue.
"""

from __future__ import annotations

import difflib

from .app import App
from .errors import UnknownTaskType


async def queue_of_announced_task(app: App, type_: str) -> str:
    """The queue the live workers run `type_` on; UnknownTaskType when none runs it."""
    queue = app.settings.queue
    tasks = await app.store.announced_tasks(queue)
    if type_ in tasks:
        return tasks[type_]
    if not tasks:
        raise UnknownTaskType(
            f"cannot check task type {type_!r}: no live worker on queue {queue!r} announces "
            "its tasks; give --app APP to check it against your code, or --no-validate to "
            "enqueue it unchecked", field="type")
    close = difflib.get_close_matches(type_, tasks, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise UnknownTaskType(
        f"unknown task type {type_!r}: the live workers on queue {queue!r} run "
        f"{', '.join(sorted(tasks))}{hint} (--no-validate enqueues it anyway)", field="type")
