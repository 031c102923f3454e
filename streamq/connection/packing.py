"""Commands packed by hiredis and sent without a task per command.

redis-py's asyncio connections pack commands in pure Python; a transition script call
carries twenty-odd arguments, so packing was a third of the producer's CPU per job.
hiredis (already a dependency for parsing) packs the same bytes in C.

With a socket timeout set, redis-py sends each command inside `asyncio.wait_for`, which on
Python 3.11 wraps the write in a new task: five turns of the event loop per command
instead of two. `asyncio.timeout` bounds the same write in the calling task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import hiredis
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection
from redis.asyncio.sentinel import SentinelManagedConnection, SentinelManagedSSLConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


class HiredisPacking(AbstractConnection):
    """Mixin: `pack_command` through hiredis, byte-for-byte what redis-py produces, and
    `send_packed_command` bounded by `asyncio.timeout` (same errors as redis-py's; a
    write that fails, times out or is cancelled drops what is still buffered)."""

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str) and " " in args[0]:  # e.g. "CLIENT SETNAME"
            args = (*args[0].split(), *args[1:])
        return [hiredis.pack_command(args)]

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        if not self.is_connected:
            await self.connect_check_health(check_health=False)
        if check_health:
            await self.check_health()  # type: ignore[no-untyped-call]
        try:
            if isinstance(command, str):
                command = command.encode()
            if isinstance(command, bytes):
                command = [command]
            writer = self._writer
            assert writer is not None  # connected above
            writer.writelines(command)
            if self.socket_timeout:
                async with asyncio.timeout(self.socket_timeout):
                    await writer.drain()
            else:
                await writer.drain()
        except TimeoutError:
            await self._drop()
            raise RedisTimeoutError("Timeout writing to socket") from None
        except OSError as e:
            await self._drop()
            if len(e.args) == 1:
                err_no, errmsg = "UNKNOWN", e.args[0]
            else:
                err_no, errmsg = e.args[0], e.args[1]
            raise RedisConnectionError(
                f"Error {err_no} while writing to socket. {errmsg}."
            ) from e
        except BaseException:
            await self._drop()  # cancelled mid-write
            raise

    async def _drop(self) -> None:
        """Close the connection without sending what is still buffered: flushed later (as
        redis-py's graceful close does), the rest of a command would run after its caller
        was told it failed or was cancelled."""
        if self._writer is not None:
            self._writer.transport.abort()
        await self.disconnect(nowait=True)


class HiredisConnection(HiredisPacking, Connection):
    """A TCP connection packing with hiredis."""


class HiredisSSLConnection(HiredisPacking, SSLConnection):
    """A TLS connection packing with hiredis."""


class HiredisSentinelConnection(HiredisPacking, SentinelManagedConnection):
    """A connection to the primary a sentinel names, packing with hiredis."""


class HiredisSentinelSSLConnection(HiredisPacking, SentinelManagedSSLConnection):
    """A TLS connection to the primary a sentinel names, packing with hiredis."""
