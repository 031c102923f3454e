"""The one Redis-error classifier: which failures are an outage, waited out or answered 503.

Every store method runs under `translate_errors`, so no module above the store sees a
redis-py exception: an outage arrives as `BackendUnavailable` (with the cause chained),
anything else (a script bug, a wrong type) as itself.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from redis.exceptions import (
    AskError,
    BusyLoadingError,
    ClusterDownError,
    ClusterError,
    MasterDownError,
    MovedError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisClusterException,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..errors import BackendUnavailable

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound=type)

_UNREACHABLE: tuple[type[BaseException], ...] = (
    RedisConnectionError, RedisTimeoutError, OSError, TimeoutError,
)
_REFUSING: tuple[type[BaseException], ...] = (
    # redis-py strips the code from these replies' text, so they are told by class
    BusyLoadingError, OutOfMemoryError, ReadOnlyError, MasterDownError, TryAgainError,
    ClusterDownError, MovedError, AskError,
    # the cluster client's own: a slot no live node serves (a failover in progress),
    # redirections past its limit ("TTL exhausted")
    SlotNotCoveredError, ClusterError,
)
CLUSTER_UNREACHABLE: tuple[str, ...] = (
    "Redis Cluster cannot be connected",
    "All slots are not covered",
    "startup_nodes could not agree",
    "No targets were found",
)
"""How redis-py's cluster client begins the messages of the `RedisClusterException`s that
say the cluster cannot be reached or is changing (others are programming errors, such as
keys of several slots in one command)."""
OUTAGE_CODES: tuple[str, ...] = (
    "LOADING", "OOM", "MISCONF", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN",
    "MOVED", "ASK", "BUSY", "NOGROUP", "UNBLOCKED",
)
"""Error replies that say Redis cannot serve now (loading, out of memory, failing to
persist, a replica or a failover, running a long script, a lost consumer group or stream),
not that the request was wrong."""


def reply_code(exc: ResponseError) -> str:
    """The error code of a reply (its first word), also when redis-py wrapped the error of
    a pipelined command ("Command # 1 (...) of pipeline caused error: ...")."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, str) and status:
        return status
    text = str(exc)
    if text.startswith("Command # ") and "caused error: " in text:
        text = text.split("caused error: ", 1)[1].lstrip("(\"'")
    return text.split(" ", 1)[0]


def outage(exc: BaseException) -> BackendUnavailable | None:
    """The `BackendUnavailable` an exception stands for, or None when it is not an outage."""
    if isinstance(exc, BackendUnavailable):
        return exc
    if isinstance(exc, ResponseError) and "DB index is out of range" in str(exc):
        return BackendUnavailable(
            f"Redis refuses the database named in STREAMQ_REDIS_URL: {exc}"
        )
    if isinstance(exc, _UNREACHABLE):
        return BackendUnavailable(f"Redis is unavailable: {exc}")
    if _connection_closed_under_it(exc):
        return BackendUnavailable(f"Redis is unavailable: connection dropped ({exc})")
    if isinstance(exc, RedisClusterException) and not isinstance(exc, SlotNotCoveredError):
        return _cluster_outage(exc)
    if isinstance(exc, _REFUSING) or (
        isinstance(exc, ResponseError) and reply_code(exc) in OUTAGE_CODES
    ):
        return BackendUnavailable(f"Redis cannot serve now: {_describe(exc)}")
    return None


def _connection_closed_under_it(exc: BaseException) -> bool:
    """redis-py's asyncio connection drops its reader and writer (sets them to None) when
    another task disconnects it, as a Cluster client does to a failed node's connections
    during a failover; a command already past its connected check then fails with this
    AttributeError inside the connection module: a dropped connection, not a bug here."""
    if not isinstance(exc, AttributeError) or not str(exc).startswith("'NoneType' object"):
        return False
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code.co_filename.endswith(_CONNECTION_MODULE)


_CONNECTION_MODULE = os.path.join("redis", "asyncio", "connection.py")


def _cluster_outage(exc: RedisClusterException) -> BackendUnavailable | None:
    text = str(exc)
    if "Cluster mode is not enabled" in text:
        return BackendUnavailable(
            "STREAMQ_REDIS_URL names a Redis Cluster, but the server is not in cluster "
            "mode: use redis:// for a single server"
        )
    if text.startswith(CLUSTER_UNREACHABLE):
        return BackendUnavailable(f"Redis Cluster is unavailable: {text}")
    return None


def _describe(exc: BaseException) -> str:
    code = getattr(exc, "status_code", None) or type(exc).__name__
    text = str(exc)
    return text if text.startswith(str(code)) else f"{code} {text}".strip()


def translating(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Run a coroutine function with outages raised as `BackendUnavailable`."""

    @functools.wraps(fn)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except BackendUnavailable:
            raise
        except Exception as exc:
            unavailable = outage(exc)
            if unavailable is None:
                raise
            raise unavailable from exc

    return call


def translate_errors(cls: C) -> C:
    """Class decorator: every public coroutine method of `cls` goes through `translating`."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.iscoroutinefunction(member):
            setattr(cls, name, translating(member))
    return cls
