"""Request and response bodies of the API, as pydantic models (they make /openapi.json)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

from ..errors import ValidationError
from ..job import Job, Priority
from ..keys import STATUSES
from ..ops.pagination import MAX_PAGE
from ..requests import MAX_IDEMPOTENCY_KEY_LEN, MAX_SCHEDULE_AHEAD_S, JobRequest
from ..stats import QueueStats
from .problems import Problem


def _no_bool_or_text(value: Any) -> Any:
    """JSON numbers only: 3 and 3.0 are integers (as in JSON Schema); true and "3" are not."""
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON number")
    return value


JsonInt = Annotated[int, BeforeValidator(_no_bool_or_text)]
StrictFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
MAX_UNIX_S = 253_402_300_799  # 9999-12-31T23:59:59Z
PRIORITY_SPELLINGS: tuple[str, ...] = Priority.spellings()


def _priority_spelling(value: Any) -> Any:
    """The library's one spelling rule (`Priority.parse`): any case, aliases to their
    priority; anything else is left for the literal to refuse."""
    if isinstance(value, str):
        try:
            return Priority.parse(value).value
        except ValidationError:
            return value
    return value


PriorityName = Annotated[
    Literal[PRIORITY_SPELLINGS],  # type: ignore[valid-type]
    BeforeValidator(_priority_spelling),
    Field(description="high, normal (or medium) or low, in any case."),
]
StatusName = Literal[STATUSES]  # type: ignore[valid-type]


class JobIn(BaseModel):
    """One job to submit."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=200, description="A registered task name.")
    payload: dict[str, Any] | None = Field(
        None, description="Keyword arguments of the task, checked against its signature."
    )
    priority: PriorityName | None = Field(None, description="Default: the task's priority.")
    delay: StrictFloat | None = Field(
        None, ge=0, le=MAX_SCHEDULE_AHEAD_S, description="Seconds before the job is due."
    )
    run_at: AwareDatetime | StrictFloat | None = Field(
        None, description="When the job is due: RFC 3339 with an offset, or unix seconds."
    )
    max_retries: JsonInt | None = Field(None, ge=0, le=1000)
    timeout: StrictFloat | None = Field(
        None, gt=0, le=7 * 86_400, description="Time limit of one attempt, in seconds."
    )
    idempotency_key: str | None = Field(
        None, min_length=1, max_length=MAX_IDEMPOTENCY_KEY_LEN,
        description="A replay with the same key returns the original job (200).",
    )
    scheduled_at: StrictFloat | None = Field(
        None, gt=0, le=MAX_UNIX_S,
        description="run_at in unix seconds, as Go job-queue clients name it.",
    )
    partition_key: str | None = Field(
        None, min_length=1, max_length=MAX_IDEMPOTENCY_KEY_LEN,
        description="Jobs with the same key land on the same shard of a sharded queue "
        "(their order is kept there).",
    )

    def to_request(self, idempotency_key: str | None) -> JobRequest:
        return JobRequest(
            type=self.type, payload=self.payload, priority=self.priority, delay=self.delay,
            run_at=self.due(), max_retries=self.max_retries, timeout=self.timeout,
            idempotency_key=idempotency_key, partition_key=self.partition_key,
        )

    def due(self) -> datetime | float | None:
        """run_at, or scheduled_at (one of the two)."""
        if self.scheduled_at is None:
            return self.run_at
        if self.run_at is not None:
            raise ValidationError("give run_at or scheduled_at, not both",
                                  field="scheduled_at")
        return self.scheduled_at


class BatchIn(BaseModel):
    """Jobs to submit in one round trip; validated whole before any is stored."""

    model_config = ConfigDict(extra="forbid")

    jobs: list[JobIn] = Field(min_length=1)


class BatchItem(BaseModel):
    """What became of one job of a batch: accepted (202), replayed (200), or refused."""

    status: int
    id: str | None = None
    location: str | None = None
    job_status: str | None = None
    problem: Problem | None = None


class BatchOut(BaseModel):
    results: list[BatchItem]


class JobList(BaseModel):
    jobs: list[Job]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class ListQuery(BaseModel):
    """Query of GET /jobs."""

    model_config = ConfigDict(extra="ignore")

    status: StatusName | None = None
    type: str | None = Field(None, min_length=1, max_length=200)
    queue: str | None = Field(None, min_length=1, max_length=200)
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(None, min_length=1, max_length=4096)


class DlqQuery(BaseModel):
    """Query of GET /dlq."""

    model_config = ConfigDict(extra="ignore")

    queue: str | None = Field(None, min_length=1, max_length=200)
    type: str | None = Field(None, min_length=1, max_length=200)
    fingerprint: str | None = Field(None, min_length=1, max_length=64)
    since: float | None = Field(None, ge=0, le=MAX_UNIX_S, allow_inf_nan=False,
                                description="Unix seconds.")
    until: float | None = Field(None, ge=0, le=MAX_UNIX_S, allow_inf_nan=False,
                                description="Unix seconds.")
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(None, min_length=1, max_length=4096)


class PauseQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    priority: PriorityName | None = Field(None, description="Default: every priority.")


class PauseOut(BaseModel):
    queue: str
    paused: list[str] = Field(description="The queue's paused priorities after the change.")


class QueuesOut(BaseModel):
    queues: list[QueueStats]


class Health(BaseModel):
    status: str
    history: str | None = Field(
        None, description="With a history archive configured: `ok`, or why not (the API "
        "stays ready without its archive; a worker is not).")


class HistoryQuery(BaseModel):
    """Query of GET /history (plus any number of `payload.<path>=<value>`)."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["succeeded", "failed", "cancelled"] | None = None
    type: str | None = Field(None, min_length=1, max_length=200)
    queue: str | None = Field(None, min_length=1, max_length=200)
    since: float | AwareDatetime | None = Field(
        None, description="Finished at or after: unix seconds or RFC 3339 with an offset.")
    until: float | AwareDatetime | None = Field(
        None, description="Finished at or before: unix seconds or RFC 3339 with an offset.")
    error_type: str | None = Field(None, min_length=1, max_length=200)
    fingerprint: str | None = Field(None, min_length=1, max_length=64)
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(None, min_length=1, max_length=4096)

    @field_validator("since", "until")
    @classmethod
    def _in_range(cls, value: float | datetime | None) -> float | datetime | None:
        if isinstance(value, float) and not 0 <= value <= MAX_UNIX_S:
            raise ValueError(f"must be unix seconds between 0 and {MAX_UNIX_S}")
        return value
