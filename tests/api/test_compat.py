"""Routes in the shape of the common Go job-queue services: the same library calls, the
same validation and problem bodies as POST /jobs and GET /jobs/{id}."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from streamq.api.compat import go_duration_s
from tests.api.conftest import Client

ADD = {"type": "math.add", "payload": {"a": 1, "b": 2}}


@pytest.mark.parametrize("path", ["/submit-job", "/submit"])
async def test_submit_answers_job_id_and_status(api: Client, path: str) -> None:
    reply = await api.post(path, json={**ADD, "priority": "HIGH"})
    assert reply.status == 202, await reply.text()
    body = await reply.json()
    assert reply.headers["Location"] == f"/job-status/{body['job_id']}"
    assert (body["status"], body["priority"], body["attempts"], body["type"]) == (
        "queued", "high", 1, "math.add")
    status = await api.get(f"/job-status/{body['job_id']}")
    assert status.status == 200
    assert (await status.json())["job_id"] == body["job_id"]
    same = await api.get(f"/jobs/{body['job_id']}")  # one job, both shapes
    assert (await same.json())["priority"] == "high"


@pytest.mark.parametrize(("delay", "seconds"), [(30, 30), (2.5, 2.5), ("90s", 90),
                                                 ("1m30s", 90), ("1h", 3600),
                                                 ("1500ms", 1.5)])
async def test_delay_in_seconds_or_as_a_go_duration(
    api: Client, delay: float | str, seconds: float
) -> None:
    before = time.time()
    reply = await api.post("/submit-job", json={**ADD, "priority": "low", "delay": delay})
    body = await reply.json()
    assert reply.status == 202 and body["status"] == "scheduled", body
    job = await (await api.get(f"/jobs/{body['job_id']}")).json()
    due = job["scheduled_at"]
    due_s = datetime.fromisoformat(due).timestamp()
    assert before + seconds - 1 <= due_s <= time.time() + seconds + 1


async def test_scheduled_at_in_unix_seconds_on_post_jobs(api: Client) -> None:
    at = round(time.time()) + 3600
    reply = await api.post("/jobs", json={**ADD, "scheduled_at": at})
    job = await reply.json()
    assert reply.status == 202 and job["status"] == "scheduled", job
    assert datetime.fromisoformat(job["scheduled_at"]).timestamp() == at
    both = await api.post("/jobs", json={**ADD, "scheduled_at": at, "run_at": at})
    assert both.status == 422 and (await both.json())["field"] == "scheduled_at"
    compat = await api.post("/submit", json={**ADD, "scheduled_at": at})
    assert (await compat.json())["status"] == "scheduled"


@pytest.mark.parametrize(("body", "status", "code", "field"), [
    ({"type": "no.such", "payload": {}}, 422, "unknown-task", "type"),
    ({"type": "math.add", "payload": {"a": "x", "b": 1}}, 422, "validation", "payload"),
    ({**ADD, "priority": "urgent"}, 422, "validation", "priority"),
    ({**ADD, "delay": "soon"}, 422, "validation", "delay"),
    ({**ADD, "delay": -1}, 422, "validation", "delay"),
    ({**ADD, "delay": 5, "scheduled_at": 2_000_000_000}, 422, "validation", "delay"),
    ({**ADD, "job_type": "x"}, 422, "validation", "job_type"),
])
async def test_same_validation_and_problem_bodies(
    api: Client, body: dict[str, object], status: int, code: str, field: str
) -> None:
    for path in ("/submit-job", "/jobs"):
        if path == "/jobs" and body.get("delay") == "soon":
            continue  # a duration string is a compatibility-route spelling only
        reply = await api.post(path, json=body)
        assert reply.status == status, (path, await reply.text())
        assert reply.headers["Content-Type"] == "application/problem+json"
        problem = await reply.json()
        assert (problem["code"], problem["field"], problem["instance"]) == (code, field, path)


async def test_unknown_job_and_idempotent_replay(api: Client) -> None:
    missing = await api.get("/job-status/nope")
    assert missing.status == 404
    assert (await missing.json())["code"] == "job-not-found"
    first = await api.post("/submit", json=ADD, headers={"Idempotency-Key": "k-1"})
    again = await api.post("/submit", json=ADD, headers={"Idempotency-Key": "k-1"})
    assert (first.status, again.status) == (202, 200)
    assert (await first.json())["job_id"] == (await again.json())["job_id"]


def test_go_durations() -> None:
    assert go_duration_s("2h45m30.5s") == 2 * 3600 + 45 * 60 + 30.5
    assert go_duration_s("300ms") == 0.3
    assert go_duration_s("10us") == pytest.approx(1e-5)
