"""The ledger of the test handlers: what each handler did, written from the worker
processes that run it and read by the test.

One line per event, `event job_id attempt pid time_ms`, appended with O_APPEND in one
write, so that what a handler did survives a SIGKILL of its process. The time is the
handler's own wall clock (ms since the epoch). The file is named by `STREAMQTEST_LEDGER`
(set by tests/support/procs.py); without it handlers record nothing.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from streamq import Context

LEDGER_ENV = "STREAMQTEST_LEDGER"


def record(event: str, ctx: Context) -> None:
    """Append one event of the running handler to the ledger."""
    path = os.environ.get(LEDGER_ENV)
    if not path:
        return
    now_ms = int(time.time() * 1000)
    line = f"{event} {ctx.job_id} {ctx.attempt} {os.getpid()} {now_ms}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class LedgerLine:
    event: str
    job_id: str
    attempt: int
    pid: int
    time_ms: int


def read_ledger(path: Path) -> list[LedgerLine]:
    """Every complete line (a line cut by SIGKILL has no newline yet and is left out)."""
    if not path.exists():
        return []
    lines = []
    for raw in path.read_text().split("\n")[:-1]:
        event, job_id, attempt, pid, time_ms = raw.split()
        lines.append(LedgerLine(event, job_id, int(attempt), int(pid), int(time_ms)))
    return lines


def counts(lines: list[LedgerLine], event: str) -> Counter[str]:
    """How many times each job recorded `event`."""
    return Counter(line.job_id for line in lines if line.event == event)
