"""The liveness file: touched by a live process's own event loop, left to age by a frozen
one, removed on a clean stop; the image's health check reads it with the shell alone."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import anyio

from streamq.liveness import keep_touched
from streamq.worker.state import NodeState, Slots
from tests.services.test_compose import image_healthcheck, wait_until
from tests.support.fixtures import apis, workers
from tests.support.procs import ApiProcess, WorkerProcess

__all__ = ["apis", "workers"]


def probe(alive: Path, max_age_s: int | None = None) -> int:
    """The image's HEALTHCHECK command (its age limit shortened when asked)."""
    command = image_healthcheck()
    if max_age_s is not None:
        command = command.replace("-lt 30", f"-lt {max_age_s}")
    env = {"PATH": "/usr/bin:/bin", "STREAMQ_LIVENESS_FILE": str(alive)}
    return subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True,
                          timeout=10).returncode


def test_a_frozen_worker_stops_touching_and_a_stopped_one_removes_the_file(
    redis_url: str, workers: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    alive = tmp_path / "alive"
    worker = workers(redis_url, app_spec="streamq.demo:app", env={
        "STREAMQ_LIVENESS_FILE": str(alive), "STREAMQ_LIVENESS_INTERVAL_S": "0.2"})
    wait_until(alive.exists, "the worker touched its liveness file")
    assert probe(alive) == 0
    worker.signal(signal.SIGSTOP)  # a hung process: its loop runs nothing
    try:
        frozen_at = alive.stat().st_mtime
        time.sleep(2.5)
        assert alive.stat().st_mtime == frozen_at
        assert probe(alive, max_age_s=2) != 0
    finally:
        worker.signal(signal.SIGCONT)
    wait_until(lambda: alive.stat().st_mtime > frozen_at, "touched again after SIGCONT")
    assert probe(alive, max_age_s=2) == 0
    assert worker.terminate() == 0
    assert not alive.exists()


def test_the_api_touches_it_too(
    redis_url: str, apis: Callable[..., ApiProcess], tmp_path: Path
) -> None:
    alive = tmp_path / "api-alive"
    api = apis(redis_url, app_spec="streamq.demo:app", env={
        "STREAMQ_LIVENESS_FILE": str(alive), "STREAMQ_LIVENESS_INTERVAL_S": "0.2"})
    wait_until(alive.exists, "the API touched its liveness file")
    first = alive.stat().st_mtime_ns
    wait_until(lambda: alive.stat().st_mtime_ns > first, "the API touched it again")
    assert probe(alive) == 0
    api.stop()
    assert not alive.exists()
    assert probe(alive) != 0  # no file: not live


async def test_an_unhealthy_check_leaves_the_file_to_age(tmp_path: Path) -> None:
    alive = tmp_path / "alive"
    healthy = [True]
    async with anyio.create_task_group() as tg:
        tg.start_soon(keep_touched, alive, 0.05, lambda: healthy[0])
        await anyio.sleep(0.1)
        healthy[0] = False
        os.utime(alive, (1, 1))
        await anyio.sleep(0.2)
        assert alive.stat().st_mtime == 1
        healthy[0] = True
        await anyio.sleep(0.2)
        assert alive.stat().st_mtime > 1
        tg.cancel_scope.cancel()
    assert not alive.exists()


def test_a_beat_running_too_long_counts_as_stuck() -> None:
    state = NodeState(name="n", slots=Slots(1), lease_s=30)
    assert not state.heartbeat_stuck(5)  # between beats
    state.beat_began = time.monotonic() - 1
    assert not state.heartbeat_stuck(5)
    state.beat_began = time.monotonic() - 6
    assert state.heartbeat_stuck(5)
