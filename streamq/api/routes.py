"""Thin handlers: parse, call the client under the deadline, serialize with orjson.

The route table at the bottom is the one source of the router, the auth scopes and the
OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from ..app import App
from ..errors import BackendUnavailable, StreamqError, ValidationError
from ..history.query import HistoryPage
from ..job import DeadLetterPage, Job, JobStatus, Priority
from ..requests import JobRequest
from ..store import EnqueueResult
from .auth import Scope
from .body import parse_model, parse_query, read_json
from .history import history_status, search_history
from .metrics import QueueCollector, render_metrics
from .models import (
    BatchIn,
    BatchItem,
    BatchOut,
    DlqQuery,
    Health,
    HistoryQuery,
    JobIn,
    JobList,
    ListQuery,
    PauseOut,
    PauseQuery,
    QueuesOut,
)
from .problems import problem_of
from .state import OPENAPI, call, client

QUEUE_METRICS = web.AppKey("streamq_queue_metrics", QueueCollector)


def _json(model: BaseModel, status: int = 200, location: str | None = None) -> web.Response:
    headers = {"Location": location} if location else None
    body = orjson.dumps(model.model_dump(mode="json"))
    return web.Response(body=body, status=status, content_type="application/json",
                        headers=headers)


async def _body(request: web.Request) -> Any:
    s = client(request).settings
    return await read_json(request, s.api_max_json_depth, s.api_max_body_bytes)


def _key(request: web.Request, body_key: str | None) -> str | None:
    header = request.headers.get("Idempotency-Key")
    if header is not None and body_key is not None and header != body_key:
        raise ValidationError("Idempotency-Key header and idempotency_key differ",
                              field="idempotency_key")
    return body_key if header is None else header


# -- jobs ----------------------------------------------------------------------------------


async def submit_job(request: web.Request) -> web.Response:
    job, created = await submit(request, parse_model(JobIn, await _body(request)))
    return _json(job, 202 if created else 200, f"/jobs/{job.id}")


async def submit(request: web.Request, job_in: JobIn) -> tuple[Job, bool]:
    """Store one job and read it back; True when it was created (False: a replay)."""
    job_request = job_in.to_request(_key(request, job_in.idempotency_key))
    app = client(request)
    [result] = await call(request, app.enqueue_many([job_request]))
    try:
        job = await call(request, app.get_job(result.job_id))
    except BackendUnavailable:
        if not result.created:
            raise
        # The job is written: a 503 now would make the client submit it a second time.
        job = _as_written(app, job_request, result)
    return job, result.created


def _as_written(app: App, job_request: JobRequest, result: EnqueueResult) -> Job:
    """The job as the enqueue wrote it, for when Redis could not be read back in time."""
    spec = app.build_spec(job_request)
    return Job(
        id=result.job_id, queue=spec.queue, type=spec.type, payload=orjson.loads(spec.payload),
        priority=Priority(spec.priority), status=JobStatus(result.status), attempt=1,
        max_retries=spec.max_retries, timeout_s=spec.timeout_s, deliveries=0, lost=0, run=0,
        created_at=None, scheduled_at=None, started_at=None, finished_at=None,
    )


async def submit_batch(request: web.Request) -> web.Response:
    app = client(request)
    batch = parse_model(BatchIn, await _body(request))
    if len(batch.jobs) > app.settings.api_max_batch_jobs:
        raise ValidationError(f"at most {app.settings.api_max_batch_jobs} jobs per batch",
                              field="jobs")
    requests = [j.to_request(j.idempotency_key) for j in batch.jobs]
    _check_each(app, requests)
    results = await call(request, app.enqueue_each(requests))
    return _batch_response(request, results)


def _check_each(app: App, requests: list[JobRequest]) -> None:
    """Validate every job first, naming the job in the field (`jobs.3.payload`)."""
    for i, r in enumerate(requests):
        try:
            app.build_spec(r)
        except ValidationError as exc:
            exc.field = f"jobs.{i}.{exc.field or 'type'}"
            exc.message = f"job {i}: {exc.message}"
            raise


def _batch_response(
    request: web.Request, results: list[EnqueueResult | StreamqError]
) -> web.Response:
    """202 when a job was accepted, 200 when all were replays; all refused: the first
    refusal as a whole (nothing was stored)."""
    refused = [r for r in results if isinstance(r, StreamqError)]
    if len(refused) == len(results):
        raise refused[0]
    items = [
        BatchItem(status=r.http_status, problem=problem_of(r, request.path))
        if isinstance(r, StreamqError)
        else BatchItem(status=202 if r.created else 200, id=r.job_id,
                       location=f"/jobs/{r.job_id}", job_status=r.status)
        for r in results
    ]
    created = any(isinstance(r, EnqueueResult) and r.created for r in results)
    return _json(BatchOut(results=items), 202 if created else 200)


async def get_job(request: web.Request) -> web.Response:
    job = await call(request, client(request).get_job(request.match_info["id"]))
    return _json(job)


async def list_jobs(request: web.Request) -> web.Response:
    q = parse_query(ListQuery, request)
    page = await call(request, client(request).list_jobs(
        status=q.status, type=q.type, queue=q.queue, limit=q.limit, cursor=q.cursor))
    return _json(JobList(jobs=page.jobs, next_cursor=page.next_cursor))


async def cancel_job(request: web.Request) -> web.Response:
    return _json(await call(request, client(request).cancel(request.match_info["id"])))


async def retry_job(request: web.Request) -> web.Response:
    job = await call(request, client(request).retry(request.match_info["id"]))
    return _json(job, 202, f"/jobs/{job.id}")


# -- dead letters --------------------------------------------------------------------------


async def list_dlq(request: web.Request) -> web.Response:
    q = parse_query(DlqQuery, request)
    page = await call(request, client(request).dlq_list(
        queue=q.queue, type=q.type, fingerprint=q.fingerprint, since=q.since, until=q.until,
        limit=q.limit, cursor=q.cursor))
    return _json(page)


async def retry_dead(request: web.Request) -> web.Response:
    job = await call(request, client(request).dlq_retry(request.match_info["id"]))
    return _json(job, 202, f"/jobs/{job.id}")


async def delete_dead(request: web.Request) -> web.Response:
    await call(request, client(request).dlq_delete(request.match_info["id"]))
    return web.Response(status=204)


# -- queues and health ---------------------------------------------------------------------


async def queues(request: web.Request) -> web.Response:
    stats = await call(request, client(request).queue_stats())
    return _json(QueuesOut(queues=stats))


async def _set_paused(request: web.Request, pause: bool) -> web.Response:
    app, name = client(request), request.match_info["name"]
    priority = parse_query(PauseQuery, request).priority

    async def change() -> list[str]:
        await (app.pause(name, priority) if pause else app.resume(name, priority))
        return await app.paused(name)

    return _json(PauseOut(queue=name, paused=await call(request, change())))


async def pause_queue(request: web.Request) -> web.Response:
    return await _set_paused(request, True)


async def resume_queue(request: web.Request) -> web.Response:
    return await _set_paused(request, False)


async def livez(_: web.Request) -> web.Response:
    return _json(Health(status="ok"))


async def healthz(request: web.Request) -> web.Response:
    return await livez(request)


async def readyz(request: web.Request) -> web.Response:
    app = client(request)
    await call(request, app.ping())
    return _json(Health(status="ready", history=await history_status(app)))


async def metrics(request: web.Request) -> web.Response:
    body = await render_metrics(request, request.app.get(QUEUE_METRICS))
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=orjson.dumps(request.app[OPENAPI]),
                        content_type="application/json")


# -- the route table -----------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.Response]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    scope: Scope
    summary: str
    ok: int = 200
    response: type[BaseModel] | None = None
    body: str | None = None  # "job" or "batch": the schema depends on the app's tasks
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = field(default=(503,))

    @property
    def name(self) -> str:
        return self.handler.__name__


ROUTES: tuple[Route, ...] = (
    Route("POST", "/jobs", submit_job, Scope.SUBMIT, "Submit a job", 202, Job, "job",
          errors=(400, 409, 413, 415, 422, 429, 503)),
    Route("POST", "/jobs/batch", submit_batch, Scope.SUBMIT, "Submit jobs in one round trip",
          202, BatchOut, "batch", errors=(400, 409, 413, 415, 422, 429, 503)),
    Route("GET", "/jobs", list_jobs, Scope.ADMIN, "List jobs, newest first", 200, JobList,
          query=ListQuery, errors=(422, 503)),
    Route("GET", "/jobs/{id}", get_job, Scope.SUBMIT, "A job's record", 200, Job,
          errors=(404, 503)),
    Route("DELETE", "/jobs/{id}", cancel_job, Scope.ADMIN, "Cancel a job", 200, Job,
          errors=(404, 409, 503)),
    Route("POST", "/jobs/{id}/retry", retry_job, Scope.ADMIN,
          "Run a failed or cancelled job again", 202, Job, errors=(404, 409, 503)),
    Route("GET", "/dlq", list_dlq, Scope.ADMIN, "List dead-letter entries", 200,
          DeadLetterPage, query=DlqQuery, errors=(422, 503)),
    Route("POST", "/dlq/{id}/retry", retry_dead, Scope.ADMIN, "Requeue a dead-lettered job",
          202, Job, errors=(404, 409, 503)),
    Route("DELETE", "/dlq/{id}", delete_dead, Scope.ADMIN,
          "Delete a dead-letter entry and its job", 204, errors=(404, 503)),
    Route("GET", "/queues", queues, Scope.ADMIN, "Queue numbers per priority", 200,
          QueuesOut),
    Route("POST", "/queues/{name}/pause", pause_queue, Scope.ADMIN, "Pause fetching", 200,
          PauseOut, query=PauseQuery, errors=(404, 422, 503)),
    Route("POST", "/queues/{name}/resume", resume_queue, Scope.ADMIN, "Resume fetching", 200,
          PauseOut, query=PauseQuery, errors=(404, 422, 503)),
    Route("GET", "/livez", livez, Scope.OPEN, "The process is alive", 200, Health, errors=()),
    Route("GET", "/healthz", healthz, Scope.OPEN, "Alias of /livez", 200, Health, errors=()),
    Route("GET", "/readyz", readyz, Scope.OPEN, "Redis answers", 200, Health),
    Route("GET", "/history", search_history, Scope.ADMIN,
          "Search archived jobs, newest finished first", 200, HistoryPage,
          query=HistoryQuery, errors=(422, 503)),
    Route("GET", "/metrics", metrics, Scope.OPEN, "Prometheus metrics", 200, errors=()),
    Route("GET", "/openapi.json", openapi, Scope.SUBMIT, "This document", 200, errors=()),
)
