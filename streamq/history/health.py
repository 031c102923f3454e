"""Whether this process can use its history archive, for /readyz.

One per process, like its metrics: the archiver and keeper actors report each write or
maintenance round here, and the process's health endpoint reads it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from .metrics import UP


@dataclass
class ArchiveHealth:
    """The outcome of the latest use of the archive (thread-safe: probes run in threads)."""

    enabled: bool = False
    reachable: bool = True
    error: str = ""
    since: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def succeeded(self) -> None:
        with self._lock:
            if not self.reachable:
                self.reachable, self.error, self.since = True, "", time.monotonic()
        UP.set(1)

    def failed(self, error: str) -> None:
        with self._lock:
            if self.reachable:
                self.since = time.monotonic()
            self.reachable, self.error = False, error
        UP.set(0)

    def status(self) -> tuple[bool, str]:
        """(ready, what to say): not ready while an enabled archive is unreachable."""
        with self._lock:
            if not self.enabled:
                return True, "not configured"
            if self.reachable:
                return True, "ok"
            down_s = time.monotonic() - self.since
            return False, f"unreachable for {down_s:.0f} s"  # the cause is in the log


ARCHIVE_HEALTH = ArchiveHealth()
