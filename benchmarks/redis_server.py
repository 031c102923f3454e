"""A private `redis-server` for one benchmark pass: streamq's own `devredis.RedisServer`.

The benchmarks never touch another Redis on the machine. A pass runs either without
persistence or with AOF `everysec`, the durability setting most deployments use.
Orchestrator side only: peer adapters run in virtualenvs without streamq.
"""

from __future__ import annotations

import shutil

from streamq.devredis import RedisServer

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
"""The binary `RedisServer` picks too; `run` asks it for its version."""

PERSISTENCE: dict[str, bool] = {"none": False, "aof-everysec": True}
"""Pass name -> AOF on; fsync is `everysec` (Redis' default, moot without AOF)."""


def private_redis(persistence: str = "none") -> RedisServer:
    """A server on a free port and a temp dir, removed on exit; `persistence` is a key of
    PERSISTENCE."""
    return RedisServer(
        appendonly=PERSISTENCE[persistence], appendfsync="everysec", binary=REDIS_SERVER
    )
