"""Producers that record every submission, as accepted, refused or unknown, in one log
format (`Submission`, `ProducerLog`), whichever way they submit:

- `Producer`: through the store directly, with ids minted before the call;
- `ApiProducer`: `POST /jobs` over HTTP, with each answer's status, Retry-After and latency.

Outcomes:
- accepted: `enqueue` returned, or the API answered 2xx (the job id is known);
- refused: streamq said no before writing (queue full, out of memory, Redis not reachable
  when the connection was made; any other answer of the API);
- unknown: the call failed after it may have reached Redis (timeout, connection dropped
  mid-call): the job may or may not exist. The checker resolves each unknown id from Redis
  (an API call that got no answer has no id to resolve).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import anyio
from redis.exceptions import ResponseError

from streamq import App, BackendUnavailable, JobRequest, QueueFull
from tests.support.procs import ApiProcess

JOB = {"type": "ledger.work", "payload": {"seconds": 0.01}}
"""What `ApiProducer` submits: a job of tests/support/tasks.py."""


@dataclass
class Submission:
    job_id: str | None
    """None: an API call that got no answer, so no id."""
    outcome: str  # accepted | refused | unknown
    at: float  # time.time() when the call returned
    error: str = ""
    status: int | None = None
    """The HTTP status of an API submission (0: no answer within the client's timeout)."""
    retry_after: str | None = None
    latency_s: float = 0.0


@dataclass
class ProducerLog:
    submissions: list[Submission] = field(default_factory=list)

    def ids(self, outcome: str) -> list[str]:
        return [s.job_id for s in self.submissions if s.outcome == outcome and s.job_id]

    @property
    def accepted(self) -> list[str]:
        return self.ids("accepted")

    @property
    def refused(self) -> list[str]:
        return self.ids("refused")

    @property
    def unknown(self) -> list[str]:
        return self.ids("unknown")

    def accepted_at(self) -> dict[str, float]:
        return {s.job_id: s.at for s in self.submissions if s.outcome == "accepted" and s.job_id}

    def statuses(self) -> Counter[int]:
        """How many API answers of each HTTP status."""
        return Counter(s.status for s in self.submissions if s.status is not None)

    @property
    def latencies(self) -> list[float]:
        return [s.latency_s for s in self.submissions if s.status is not None]

    def merged(self, *others: ProducerLog) -> ProducerLog:
        """One log of several producers' submissions, in time order."""
        every = [s for log in (self, *others) for s in log.submissions]
        return ProducerLog(sorted(every, key=lambda s: s.at))


def _outage_outcome(exc: BackendUnavailable) -> str:
    """`refused` when Redis certainly wrote nothing: it answered with an error (OOM,
    MISCONF, LOADING) or refused the connection; `unknown` when the call may have landed."""
    cause = exc.__cause__
    if isinstance(cause, ResponseError):
        return "refused"
    refused = "Connection refused" in str(cause) or "Error 111" in str(cause)
    return "refused" if refused else "unknown"


class Producer:
    """Submits jobs at a steady rate, in small batches, through the store directly so that
    the id of a submission whose outcome is unknown is still known."""

    def __init__(self, app: App, log: ProducerLog | None = None) -> None:
        self.app = app
        self.log = log or ProducerLog()

    async def submit(self, requests: list[JobRequest]) -> list[Submission]:
        specs = [self.app.build_spec(r) for r in requests]
        done: list[Submission] = []
        try:
            await self.app.store.enqueue(specs)
            outcome, error = "accepted", ""
        except QueueFull as exc:
            outcome, error = "refused", str(exc)
        except BackendUnavailable as exc:
            outcome, error = _outage_outcome(exc), str(exc)
        now = time.time()
        for spec in specs:
            done.append(Submission(spec.job_id, outcome, now, error))
        self.log.submissions += done
        return done

    async def run(
        self,
        make: Any,
        rate_per_s: float,
        duration_s: float,
        batch: int = 1,
    ) -> ProducerLog:
        """Submit `make(i)` requests at `rate_per_s` for `duration_s`, `batch` per call."""
        period = batch / rate_per_s
        began = time.monotonic()
        i = 0
        while time.monotonic() - began < duration_s:
            due = began + (i // batch) * period
            wait = due - time.monotonic()
            if wait < -1.0:  # after an outage: go on at the rate, no catch-up burst
                began -= wait
                wait = 0.0
            if wait > 0:
                await anyio.sleep(wait)
            results = await self.submit([make(i + k) for k in range(batch)])
            if results[0].outcome != "accepted":
                await anyio.sleep(0.05)  # a refused producer backs off a little
            i += batch
        return self.log


class ApiProducer:
    """Submits `JOB` with `POST /jobs` at a steady rate; records every answer."""

    def __init__(self, log: ProducerLog | None = None) -> None:
        self.log = log or ProducerLog()

    async def post(self, http: aiohttp.ClientSession, url: str, timeout_s: float) -> int:
        began = time.monotonic()
        try:
            async with http.post(f"{url}/jobs", json=JOB,
                                 timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
                body = await resp.json(content_type=None)
                fields: dict[str, Any] = body if isinstance(body, dict) else {}
                ok = resp.status in (200, 202)
                self.log.submissions.append(Submission(
                    fields.get("id") if ok else None, "accepted" if ok else "refused",
                    time.time(), "" if ok else str(fields.get("code", "")), resp.status,
                    resp.headers.get("Retry-After"), time.monotonic() - began,
                ))
                return resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.log.submissions.append(Submission(
                None, "unknown", time.time(), repr(exc), 0, None, time.monotonic() - began
            ))
            return 0

    async def run(self, http: aiohttp.ClientSession, api: ApiProcess, seconds: float,
                  rate: float, timeout_s: float = 5.0) -> ProducerLog:
        """Submit at `rate` a second for `seconds`, each call in its own task, so that a
        slow answer does not slow the rate."""
        began = time.monotonic()
        async with anyio.create_task_group() as tg:
            i = 0
            while time.monotonic() - began < seconds:
                tg.start_soon(self.post, http, api.url, timeout_s)
                i += 1
                await anyio.sleep(max(0.0, began + i / rate - time.monotonic()))
        return self.log
