"""Routes in the shape common Go job-queue services use, for clients written against them.

`POST /submit-job` and `POST /submit` take `type`, `payload`, `priority` (`high`, `medium`
or `low`, any case) and `delay` (seconds, or a Go duration such as `"1m30s"`), plus any
field of `POST /jobs`; `GET /job-status/{id}` answers `job_id`, `status`, `attempts`,
`result`, `error` and the times (RFC 3339, which Go's `time.Time` reads). They call the
same library functions as `POST /jobs` and `GET /jobs/{id}`: the same validation, the
same problem bodies, the same idempotency.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

import orjson
from aiohttp import web
from pydantic import BaseModel, Field

from ..job import Job
from ..requests import MAX_SCHEDULE_AHEAD_S, JobRequest
from .auth import Scope
from .body import parse_model, read_json
from .models import JobIn, StrictFloat
from .routes import Route, submit
from .state import call, client

GO_DURATION = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"
_UNITS_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")


GoDuration = Annotated[str, Field(pattern=GO_DURATION, max_length=64)]
Seconds = Annotated[StrictFloat, Field(ge=0, le=MAX_SCHEDULE_AHEAD_S)]


def go_duration_s(text: str) -> float:
    """Seconds in a Go duration string (`300ms`, `1m30s`, `2h`)."""
    return sum(float(n) * _UNITS_S[unit] for n, unit in _PART.findall(text))


class CompatJobIn(JobIn):
    """A job as Go job-queue clients submit it: the fields of POST /jobs, with `delay` in
    seconds or as a Go duration."""

    delay: Seconds | GoDuration | None = Field(  # type: ignore[assignment]
        None, description="Seconds before the job is due, or a Go duration (`1m30s`).")

    def to_request(self, idempotency_key: str | None) -> JobRequest:
        delay = go_duration_s(self.delay) if isinstance(self.delay, str) else self.delay
        return JobRequest(
            type=self.type, payload=self.payload, priority=self.priority, delay=delay,
            run_at=self.due(), max_retries=self.max_retries, timeout=self.timeout,
            idempotency_key=idempotency_key,
        )


class JobStatusOut(BaseModel):
    """A job as Go job-queue clients read it."""

    job_id: str
    type: str
    status: str = Field(description="scheduled, queued, processing, retrying, succeeded, "
                                    "failed or cancelled.")
    priority: str
    attempts: int = Field(description="The current (or last) attempt, from 1.")
    max_retries: int
    result: Any = None
    error: str | None = None
    created_at: datetime | None = None
    scheduled_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None

    @classmethod
    def of(cls, job: Job) -> JobStatusOut:
        return cls(
            job_id=job.id, type=job.type, status=job.status.value, priority=job.priority.value,
            attempts=job.attempt, max_retries=job.max_retries, result=job.result,
            error=job.error, created_at=job.created_at, scheduled_at=job.scheduled_at,
            started_at=job.started_at, completed_at=job.finished_at,
        )


def _json(model: BaseModel, status: int, location: str | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(model.model_dump(mode="json")), status=status,
                        content_type="application/json",
                        headers={"Location": location} if location else None)


async def submit_compat(request: web.Request) -> web.Response:
    s = client(request).settings
    body = await read_json(request, s.api_max_json_depth, s.api_max_body_bytes)
    job, created = await submit(request, parse_model(CompatJobIn, body))
    return _json(JobStatusOut.of(job), 202 if created else 200, f"/job-status/{job.id}")


async def job_status(request: web.Request) -> web.Response:
    job = await call(request, client(request).get_job(request.match_info["id"]))
    return _json(JobStatusOut.of(job), 200)


async def submit_job_compat(request: web.Request) -> web.Response:
    return await submit_compat(request)


COMPAT_ROUTES: tuple[Route, ...] = (
    Route("POST", "/submit-job", submit_job_compat, Scope.SUBMIT,
          "Submit a job (Go job-queue shape)", 202, JobStatusOut, "compat",
          errors=(400, 409, 413, 415, 422, 429, 503)),
    Route("POST", "/submit", submit_compat, Scope.SUBMIT,
          "Submit a job (Go job-queue shape)", 202, JobStatusOut, "compat",
          errors=(400, 409, 413, 415, 422, 429, 503)),
    Route("GET", "/job-status/{id}", job_status, Scope.SUBMIT,
          "A job's status (Go job-queue shape)", 200, JobStatusOut, errors=(404, 503)),
)
