"""Job ids: unique across nodes and sortable by creation time."""

from __future__ import annotations

import os
import threading
import time

_lock = threading.Lock()
_last_ms = 0
_counter = 0
_node = os.urandom(4).hex()


def new_job_id() -> str:
    """A 32-char hex id: 12 of milliseconds, 4 of a per-ms counter, 16 random.

    Lexical order follows creation time; within one process and millisecond the counter
    keeps order, and the random tail keeps nodes apart.
    """
    global _last_ms, _counter
    with _lock:
        now = time.time_ns() // 1_000_000
        if now <= _last_ms:
            now = _last_ms
            _counter += 1
            if _counter > 0xFFFF:
                now += 1
                _counter = 0
        else:
            _counter = 0
        _last_ms = now
        counter = _counter
    return f"{now:012x}{counter:04x}{_node}{os.urandom(4).hex()}"


def job_id_time_ms(job_id: str) -> int:
    """Creation time encoded in a job id."""
    return int(job_id[:12], 16)
