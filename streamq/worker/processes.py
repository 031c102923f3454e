"""`streamq worker --processes N`: N single-process nodes as children of one parent.

The parent restarts a child that crashed (with backoff), forwards SIGTERM/SIGINT to every
child, and waits for them to finish their grace period. A child that fails at start with a
usage or configuration error (exit code 2) is not restarted: it would fail again.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

log = logging.getLogger("streamq")

EXIT_USAGE = 2
MAX_RESTART_DELAY_S = 10.0


def child_command(app_spec: str, options: Sequence[str]) -> list[str]:
    """The command line of one child node: the same worker, one process."""
    return [sys.executable, "-m", "streamq", "worker", app_spec, *options]


def run_children(command: Sequence[str], count: int, burst: bool = False) -> int:
    """Run `count` children until they all exit; returns the worst exit code."""
    env = {**os.environ, "STREAMQ_PROCESSES": "1"}
    children = [subprocess.Popen(list(command), env=env) for _ in range(count)]
    delays = [0.5] * count
    stopping = False

    def forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    worst = 0
    while True:
        alive = 0
        for i, child in enumerate(children):
            code = child.poll()
            if code is None:
                alive += 1
                continue
            if stopping or burst or code in (0, EXIT_USAGE):
                worst = max(worst, code if code > 0 else (1 if code < 0 else 0))
                if code == EXIT_USAGE and not stopping:
                    forward(signal.SIGTERM, None)
                continue
            log.warning("worker pid %d exited with %d; restarting in %.1f s", child.pid, code,
                        delays[i])
            time.sleep(delays[i])
            delays[i] = min(MAX_RESTART_DELAY_S, delays[i] * 2)
            children[i] = subprocess.Popen(list(command), env=env)
            alive += 1
        if not alive:
            return worst
        time.sleep(0.2)
