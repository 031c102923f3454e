"""The blocking producer: from many threads at once, from an event loop's thread pool,
from a plain script; and a clear refusal inside a running loop."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest

from streamq import App, JobRequest, JobStatus, Settings, SyncClient, ValidationError
from tests.support.nodes import running_node


def adder(app: App) -> None:
    @app.task("add", max_retries=0)
    def add(a: int, b: int) -> int:
        return a + b


async def test_threads_of_a_running_loop_enqueue_and_wait(
    settings_for: Callable[..., Settings],
) -> None:
    """Eight threads of the loop's pool enqueue 25 jobs each and wait for their results
    while a worker runs in the loop itself."""
    async with App(settings_for()) as app:
        adder(app)

        def produce(n: int) -> list[int]:
            ids = [app.enqueue_sync("add", {"a": n, "b": i}) for i in range(25)]
            return [app.sync().wait_for(job_id, timeout_s=20).result for job_id in ids]

        async with running_node(app):
            results: list[list[int]] = []

            async def one(n: int) -> None:
                results.append(await anyio.to_thread.run_sync(produce, n))

            async with anyio.create_task_group() as tg:
                for n in range(8):
                    tg.start_soon(one, n)
        assert sorted(map(sorted, results)) == [[n + i for i in range(25)] for n in range(8)]
        app.sync().close()


def test_plain_threads_without_any_loop(settings_for: Callable[..., Settings]) -> None:
    app = App(settings_for())
    adder(app)
    with SyncClient(app) as client, ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: client.enqueue("add", {"a": i, "b": 1}), range(40)))
        assert len(set(ids)) == 40
        assert client.get_job(ids[0]).status is JobStatus.QUEUED
        [result] = client.enqueue_many([JobRequest("add", {"a": 1, "b": 2}, delay=60)])
        assert client.get_job(result.job_id).status is JobStatus.SCHEDULED
        assert client.cancel(result.job_id).status is JobStatus.CANCELLED
        with pytest.raises(ValidationError):  # validated against the app's tasks
            client.enqueue("add", {"a": "x"})
    with pytest.raises(RuntimeError, match="closed"):
        client.enqueue("add", {"a": 1, "b": 1})


async def test_a_blocking_call_inside_the_loop_is_refused(
    settings_for: Callable[..., Settings],
) -> None:
    app = App(settings_for())
    adder(app)
    with pytest.raises(RuntimeError, match=r"use `await app.enqueue\(...\)` there"):
        app.enqueue_sync("add", {"a": 1, "b": 2})
    app.sync().close()


def test_a_script_enqueues_and_exits_cleanly(redis_url: str) -> None:
    script = (
        "from streamq import App\n"
        f"app = App(redis_url={redis_url!r})\n"
        "@app.task('add')\n"
        "def add(a: int, b: int) -> int:\n"
        "    return a + b\n"
        "print(app.enqueue_sync('add', {'a': 1, 'b': 2}))\n"
    )
    result = subprocess.run([sys.executable, "-W", "error", "-c", script], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert len(result.stdout.strip()) == 32
