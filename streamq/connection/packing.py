"""Commands packed by hiredis.

redis-py's asyncio connections pack commands in pure Python; a transition script call
carries twenty-odd arguments, so packing was a third of the producer's CPU per job.
hiredis (already a dependency for parsing) packs the same bytes in C.
"""

from __future__ import annotations

from typing import Any

import hiredis
from redis.asyncio.connection import Connection, SSLConnection
from redis.asyncio.sentinel import SentinelManagedConnection, SentinelManagedSSLConnection


class HiredisPacking:
    """Mixin: `pack_command` through hiredis, byte-for-byte what redis-py produces."""

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str) and " " in args[0]:  # e.g. "CLIENT SETNAME"
            args = (*args[0].split(), *args[1:])
        return [hiredis.pack_command(args)]


class HiredisConnection(HiredisPacking, Connection):
    """A TCP connection packing with hiredis."""


class HiredisSSLConnection(HiredisPacking, SSLConnection):
    """A TLS connection packing with hiredis."""


class HiredisSentinelConnection(HiredisPacking, SentinelManagedConnection):
    """A connection to the primary a sentinel names, packing with hiredis."""


class HiredisSentinelSSLConnection(HiredisPacking, SentinelManagedSSLConnection):
    """A TLS connection to the primary a sentinel names, packing with hiredis."""
