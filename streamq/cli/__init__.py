"""The `streamq` command: run workers, the API and the dev stack; submit and inspect jobs.

Every option can also be set with the STREAMQ_* variable that `--help` shows; settings
(STREAMQ_REDIS_URL, ...) are read from the environment, `.env` and streamq.toml, and a bad
value stops the command at start with a message naming the variable or the file.

Exit codes: 0 success; 1 failure (a node that crashed, `check` unhealthy, `job --wait`
timed out); 2 usage or configuration error (a port in use too); 3 job not found; 4 Redis
unavailable; 5 invalid input (validation, idempotency conflict, invalid state transition,
queue full).
"""

from __future__ import annotations

from .main import main

__all__ = ["main"]
