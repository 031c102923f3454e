"""streamq: a crash-safe background job queue for Python services, on Redis Streams."""

from .app import App
from .context import Context
from .cron import CronJob
from .errors import (
    BackendUnavailable,
    ConfigurationError,
    Fail,
    HistoryUnavailable,
    IdempotencyConflict,
    InvalidTransition,
    JobNotFound,
    PayloadTooLarge,
    QueueFull,
    QueueNotFound,
    ResultTooLarge,
    Retry,
    StreamqError,
    UnknownTaskType,
    ValidationError,
)
from .job import DeadLetter, DeadLetterPage, Event, Job, JobPage, JobStatus, Priority
from .policy import Backoff
from .registry import Registry
from .requests import JobRequest
from .settings import Settings
from .store import EnqueueResult
from .sync import SyncClient
from .task import Task

__all__ = [
    "App",
    "BackendUnavailable",
    "Backoff",
    "ConfigurationError",
    "Context",
    "CronJob",
    "DeadLetter",
    "DeadLetterPage",
    "EnqueueResult",
    "Event",
    "Fail",
    "HistoryUnavailable",
    "IdempotencyConflict",
    "InvalidTransition",
    "Job",
    "JobNotFound",
    "JobPage",
    "JobRequest",
    "JobStatus",
    "PayloadTooLarge",
    "Priority",
    "QueueFull",
    "QueueNotFound",
    "Registry",
    "ResultTooLarge",
    "Retry",
    "Settings",
    "StreamqError",
    "SyncClient",
    "Task",
    "UnknownTaskType",
    "ValidationError",
]
