"""The task and cron registry: what an application declares, shared by producers and workers.

Declarations are checked here, when they are made: a bad option, cron expression, time
zone, misfire policy or payload is refused before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar

from .cron import CronJob, check_expression, parse_misfire
from .errors import ConfigurationError, ValidationError
from .job import Priority
from .keys import check_queue_name
from .policy import Backoff
from .settings import Settings
from .task import Task, TaskOptions

P = ParamSpec("P")
R = TypeVar("R")


class Registry:
    """Tasks by name and crons by name, with the settings that give their defaults."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.layout = settings.layout
        """Shards per queue, and the producer's round robin over them."""
        self.tasks: dict[str, Task[Any, Any]] = {}
        self.crons: dict[str, CronJob] = {}

    @property
    def queues(self) -> list[str]:
        """Every queue declared: the default one and those tasks name."""
        names = [self.settings.queue, *(t.options.queue for t in self.tasks.values())]
        return list(dict.fromkeys(names))

    def task(
        self,
        name: str | None = None,
        *,
        queue: str | None = None,
        priority: str = "normal",
        max_retries: int | None = None,
        timeout: float | None = None,
        retry_backoff: Backoff | float | None = None,
        fail_on: Sequence[type[BaseException]] = (),
        concurrency: int | None = None,
    ) -> Callable[[Callable[P, R]], Task[P, R]]:
        """Register a handler (async or plain) under `name` (default: module.qualname)."""
        s = self.settings
        if isinstance(retry_backoff, Backoff):
            backoff = retry_backoff
        else:
            backoff = Backoff(retry_backoff or s.retry_base_s, s.retry_cap_s)
        options = TaskOptions(
            queue=check_queue_name(queue or s.queue),
            priority=Priority.parse(priority).value,
            max_retries=s.max_retries if max_retries is None else max_retries,
            timeout_s=s.job_timeout_s if timeout is None else float(timeout),
            backoff=backoff,
            fail_on=tuple(fail_on),
            concurrency=concurrency,
        )
        if options.max_retries < 0 or options.timeout_s <= 0:
            raise ValidationError("max_retries must be >= 0 and timeout > 0")

        def register(handler: Callable[P, R]) -> Task[P, R]:
            task_name = name or f"{handler.__module__}.{handler.__qualname__}"
            if task_name in self.tasks:
                raise ValidationError(f"task {task_name!r} is registered twice")
            task: Task[P, R] = Task(task_name, handler, options)
            self.tasks[task_name] = task
            return task

        return register

    def cron(
        self,
        expr: str,
        *,
        name: str | None = None,
        payload: dict[str, Any] | None = None,
        timezone: str = "UTC",
        misfire: str = "skip",
        queue: str | None = None,
        priority: str = "normal",
        max_retries: int | None = None,
        timeout: float | None = None,
    ) -> Callable[[Callable[P, R]], Task[P, R]]:
        """Register a handler as a task and fire it at every tick of `expr`.

        A bad expression, time zone, misfire policy or payload is refused before the task
        is registered (ConfigurationError)."""
        check_expression(expr, name or "")

        def register(handler: Callable[P, R]) -> Task[P, R]:
            task_name = name or f"{handler.__module__}.{handler.__qualname__}"
            cron = self._cron_job(expr, task_name, task_name, payload, timezone, misfire,
                                  queue or self.settings.queue, None)
            task = self.task(
                task_name, queue=queue, priority=priority, max_retries=max_retries,
                timeout=timeout,
            )(handler)
            try:
                self._add(cron, task)
            except Exception:
                del self.tasks[task_name]
                raise
            return task

        return register

    def add_cron(
        self,
        expr: str,
        type: str | Task[Any, Any],
        *,
        name: str | None = None,
        payload: dict[str, Any] | None = None,
        timezone: str = "UTC",
        misfire: str = "skip",
        priority: str | None = None,
        queue: str | None = None,
    ) -> CronJob:
        """Fire a job of a registered task `type` with `payload` at every tick of `expr`
        (5 fields, or 6 with seconds first), in `timezone`. Refuses bad declarations with
        ConfigurationError."""
        type_name = type.name if isinstance(type, Task) else type
        cron_name = name or type_name
        task = self.tasks.get(type_name)
        if task is None:
            raise ConfigurationError(f"cron {cron_name!r}: no task named {type_name!r}")
        cron = self._cron_job(expr, cron_name, type_name, payload, timezone, misfire,
                              queue or task.options.queue, priority)
        return self._add(cron, task)

    def _cron_job(
        self, expr: str, name: str, type_name: str, payload: dict[str, Any] | None,
        timezone: str, misfire: str, queue: str, priority: str | None,
    ) -> CronJob:
        """The declaration, checked (expression, zone, misfire policy, priority)."""
        try:
            if priority is not None:
                Priority.parse(priority)
            check_queue_name(queue)
        except ValidationError as exc:
            raise ConfigurationError(f"cron {name!r}: {exc}") from None
        return CronJob(name, expr, type_name, {} if payload is None else payload, timezone,
                       parse_misfire(misfire), queue, priority)

    def _add(self, cron: CronJob, task: Task[Any, Any]) -> CronJob:
        if cron.name in self.crons:
            raise ConfigurationError(f"cron {cron.name!r} is declared twice")
        try:
            task.validate(cron.payload)
        except ValidationError as exc:
            raise ConfigurationError(f"cron {cron.name!r}: {exc}") from None
        self.crons[cron.name] = cron
        return cron
