"""Submitting jobs over HTTP while faults happen: every answer recorded with its status,
Retry-After, job id, time and latency (status 0: no answer within the client's timeout)."""

from __future__ import annotations

import time
from collections import Counter

import aiohttp
import anyio

from tests.support.procs import ApiProcess

JOB = {"type": "ledger.work", "payload": {"seconds": 0.01}}


class Submissions:
    """What the API answered to each POST /jobs: status, Retry-After, job id, time."""

    def __init__(self) -> None:
        self.answers: list[tuple[float, int, str | None, str | None]] = []
        self.latencies: list[float] = []

    async def post(self, http: aiohttp.ClientSession, url: str, timeout_s: float) -> int:
        began = time.monotonic()
        try:
            async with http.post(f"{url}/jobs", json=JOB,
                                 timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
                body = await resp.json(content_type=None)
                job_id = body.get("id") if resp.status in (200, 202) else None
                self.answers.append(
                    (time.time(), resp.status, resp.headers.get("Retry-After"), job_id)
                )
                self.latencies.append(time.monotonic() - began)
                return resp.status
        except (TimeoutError, aiohttp.ClientError):
            self.answers.append((time.time(), 0, None, None))  # 0: no answer in time
            self.latencies.append(time.monotonic() - began)
            return 0

    @property
    def accepted(self) -> list[str]:
        return [j for _, status, _, j in self.answers if status == 202 and j]

    def statuses(self) -> Counter[int]:
        return Counter(status for _, status, _, _ in self.answers)


async def submit_for(subs: Submissions, http: aiohttp.ClientSession, api: ApiProcess,
                      seconds: float, rate: float, timeout_s: float = 5.0) -> None:
    began = time.monotonic()
    async with anyio.create_task_group() as tg:
        i = 0
        while time.monotonic() - began < seconds:
            tg.start_soon(subs.post, http, api.url, timeout_s)
            i += 1
            await anyio.sleep(max(0.0, began + i / rate - time.monotonic()))
