"""A producer that records every submission as accepted, refused or unknown.

- accepted: `enqueue` returned (the job id is the producer's own, minted before the call);
- refused: streamq said no before writing (queue full, out of memory, Redis not reachable
  when the connection was made);
- unknown: the call failed after it may have reached Redis (timeout, connection dropped
  mid-call): the job may or may not exist. The checker resolves each unknown one from Redis.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import anyio
from redis.exceptions import ResponseError

from streamq import App, BackendUnavailable, JobRequest, QueueFull


@dataclass
class Submission:
    job_id: str
    outcome: str  # accepted | refused | unknown
    at: float  # time.time() when the call returned
    error: str = ""


@dataclass
class ProducerLog:
    submissions: list[Submission] = field(default_factory=list)

    def ids(self, outcome: str) -> list[str]:
        return [s.job_id for s in self.submissions if s.outcome == outcome]

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
        return {s.job_id: s.at for s in self.submissions if s.outcome == "accepted"}


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
