"""Return codes of the transition scripts, and the typed error each one stands for.

One enum per script that returns codes, named after it (`dlq_delete.lua`: `DlqDeleteCode`),
mirroring the `Returns` line of the script's contract header (`streamq/lua/`), where each
code opens one `|`-separated alternative. `ERRORS` maps every code of every enum to the
error the store raises for it (None: not an error). A test enumerates both, so a code
added to a script without a meaning here fails it.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from ..errors import (
    IdempotencyConflict,
    InvalidTransition,
    JobNotFound,
    QueueFull,
    StreamqError,
)


class EnqueueCode(IntEnum):
    """enqueue.lua"""

    CREATED = 1
    REPLAYED = 0
    KEY_CONFLICT = -1
    QUEUE_FULL = -2


class CronCode(IntEnum):
    """cron.lua"""

    FIRED = 1
    TAKEN = 0
    SKIPPED = 2
    QUEUE_FULL = -2


class StartCode(IntEnum):
    """start.lua, per entry (a positive value is the new run number)"""

    NO_RECORD = -1
    NOT_RUNNABLE = 0


class FinishCode(IntEnum):
    """finish.lua, per outcome"""

    APPLIED = 1
    STALE = 0
    NO_RECORD = -1
    CANCELLED_MEANWHILE = 2
    GIVEN_BACK = 3


class ProgressCode(IntEnum):
    """progress.lua"""

    STORED = 1
    STALE = 0


class CancelCode(IntEnum):
    """cancel.lua"""

    CANCELLED = 1
    ALREADY_FINISHED = 0
    NO_RECORD = -1


class RequeueCode(IntEnum):
    """requeue.lua"""

    REQUEUED = 1
    NOT_RETRYABLE = 0
    NO_RECORD = -1


class DlqDeleteCode(IntEnum):
    """dlq_delete.lua, per entry"""

    DELETED = 1
    STALE = 0
    NO_RECORD = -1


class AdmitCode(IntEnum):
    """admit.lua, per entry"""

    ADMITTED = 1
    PARKED = 0


CODES: tuple[type[IntEnum], ...] = (
    EnqueueCode, CronCode, StartCode, FinishCode, ProgressCode, CancelCode, RequeueCode,
    DlqDeleteCode, AdmitCode,
)

ERRORS: dict[type[IntEnum], dict[Any, type[StreamqError] | None]] = {
    EnqueueCode: {
        EnqueueCode.CREATED: None,
        EnqueueCode.REPLAYED: None,
        EnqueueCode.KEY_CONFLICT: IdempotencyConflict,
        EnqueueCode.QUEUE_FULL: QueueFull,
    },
    CronCode: {
        CronCode.FIRED: None,
        CronCode.TAKEN: None,
        CronCode.SKIPPED: None,
        CronCode.QUEUE_FULL: QueueFull,
    },
    StartCode: {
        StartCode.NO_RECORD: None,
        StartCode.NOT_RUNNABLE: None,
    },
    FinishCode: {
        FinishCode.APPLIED: None,
        FinishCode.STALE: None,
        FinishCode.NO_RECORD: None,
        FinishCode.CANCELLED_MEANWHILE: None,
        FinishCode.GIVEN_BACK: None,
    },
    ProgressCode: {
        ProgressCode.STORED: None,
        ProgressCode.STALE: None,
    },
    CancelCode: {
        CancelCode.CANCELLED: None,
        CancelCode.ALREADY_FINISHED: InvalidTransition,
        CancelCode.NO_RECORD: JobNotFound,
    },
    RequeueCode: {
        RequeueCode.REQUEUED: None,
        RequeueCode.NOT_RETRYABLE: InvalidTransition,
        RequeueCode.NO_RECORD: JobNotFound,
    },
    DlqDeleteCode: {
        DlqDeleteCode.DELETED: None,
        DlqDeleteCode.STALE: JobNotFound,
        DlqDeleteCode.NO_RECORD: JobNotFound,
    },
    AdmitCode: {
        AdmitCode.ADMITTED: None,
        AdmitCode.PARKED: None,
    },
}
"""Every code of every script -> the error the store raises for it, or None; one table
per enum, since members of two IntEnums with the same value are equal (one dict would
merge them).

Outcome codes of batch scripts (finish, start, admit) are never errors: they are counted
(stale outcomes) or acted on by the worker."""


def error_for(code: IntEnum) -> type[StreamqError] | None:
    return ERRORS[type(code)][code]
