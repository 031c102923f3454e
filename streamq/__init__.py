"""streamq: a crash-safe background job queue for Python services, on Redis Streams."""

from .app import App, JobRequest
from .context import Context
from .control import DeadLetter, DeadLetterPage, Event, JobPage
from .cron import CronJob
from .errors import (
    BackendUnavailable,
    ConfigurationError,
    Fail,
    IdempotencyConflict,
    InvalidTransition,
    JobNotFound,
    PayloadTooLarge,
    QueueFull,
    Retry,
    StreamqError,
    UnknownTaskType,
    ValidationError,
)
from .job import Job, JobStatus, Priority
from .policy import Backoff
from .settings import Settings
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
    "Event",
    "Fail",
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
    "Retry",
    "Settings",
    "StreamqError",
    "Task",
    "UnknownTaskType",
    "ValidationError",
]
