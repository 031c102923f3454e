"""Metrics of the history archive, in the process registry (labels: queue only)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from ..metrics import REGISTRY

LAG_SECONDS = Gauge(
    "streamq_history_lag_seconds",
    "Age of the oldest terminal job not archived yet (0 when none). Every archiving node "
    "reports the same shared number: aggregate with max.",
    ["queue"], registry=REGISTRY,
)
LAG_JOBS = Gauge(
    "streamq_history_lag_jobs",
    "Terminal jobs waiting in the archive stream. Every archiving node reports the same "
    "shared number: aggregate with max.",
    ["queue"], registry=REGISTRY,
)
ROWS_WRITTEN = Counter(
    "streamq_history_rows_written_total", "Rows this node added to the archive.", ["queue"],
    registry=REGISTRY,
)
WRITE_ERRORS = Counter(
    "streamq_history_write_errors_total",
    "Archive writes that failed (PostgreSQL unreachable, slow or refusing); retried.",
    ["queue"], registry=REGISTRY,
)
DROPPED = Counter(
    "streamq_history_dropped_total",
    "Terminal jobs that will never be archived: trimmed from a full archive stream, or "
    "an unreadable entry.",
    ["queue"], registry=REGISTRY,
)
UP = Gauge(
    "streamq_history_up", "1 while the last use of the archive succeeded, 0 after a failure.",
    registry=REGISTRY,
)
