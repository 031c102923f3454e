"""Read the append-only ledger that test handlers write (see tests/support/tasks.py).

One line per event: `event job_id attempt pid [time_ms]`. The time is the handler's local
clock (ms since the epoch); lines from before it was recorded have 4 fields.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LedgerLine:
    event: str
    job_id: str
    attempt: int
    pid: int
    time_ms: int = 0


def read_ledger(path: Path) -> list[LedgerLine]:
    if not path.exists():
        return []
    lines = []
    for raw in path.read_text().splitlines():
        parts = raw.split()
        if len(parts) == 4:
            lines.append(LedgerLine(parts[0], parts[1], int(parts[2]), int(parts[3])))
        elif len(parts) == 5 and parts[4].isdigit():  # a line cut by SIGKILL is ignored
            lines.append(
                LedgerLine(parts[0], parts[1], int(parts[2]), int(parts[3]), int(parts[4]))
            )
    return lines


def counts(lines: list[LedgerLine], event: str) -> Counter[str]:
    return Counter(line.job_id for line in lines if line.event == event)
