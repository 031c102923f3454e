"""Submitting, reading, listing, cancelling and retrying jobs through the API (no worker)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

from tests.api.conftest import Client
from tests.api.problems import assert_problem

ADD = {"type": "math.add", "payload": {"a": 1, "b": 2}}


async def test_submit_answers_202_with_location_and_the_job(api: Client) -> None:
    response = await api.post("/jobs", json={**ADD, "priority": "high", "max_retries": 2})
    assert response.status == 202
    job = await response.json()
    assert response.headers["Location"] == f"/jobs/{job['id']}"
    assert (job["type"], job["status"], job["priority"], job["max_retries"]) == (
        "math.add", "queued", "high", 2)
    fetched = await api.get(response.headers["Location"])
    assert fetched.status == 200 and (await fetched.json())["id"] == job["id"]


async def test_delay_and_run_at_schedule_the_job(api: Client) -> None:
    delayed = await (await api.post("/jobs", json={**ADD, "delay": 60})).json()
    assert delayed["status"] == "scheduled"
    at = await (await api.post("/jobs", json={**ADD, "run_at": time.time() + 60})).json()
    assert at["status"] == "scheduled"
    due = datetime.now(timezone(timedelta(hours=2))).replace(microsecond=0) + timedelta(days=3)
    rfc = await api.post("/jobs", json={**ADD, "run_at": due.isoformat()})
    utc = due.astimezone(UTC).replace(tzinfo=None).isoformat()
    assert (await rfc.json())["scheduled_at"].startswith(utc)


async def test_idempotency_key_replay_returns_the_original_job_with_200(api: Client) -> None:
    first = await api.post("/jobs", json=ADD, headers={"Idempotency-Key": "signup-42"})
    replay = await api.post("/jobs", json={**ADD, "idempotency_key": "signup-42"})
    assert (first.status, replay.status) == (202, 200)
    assert (await first.json())["id"] == (await replay.json())["id"]
    mismatch = await api.post("/jobs", json={**ADD, "idempotency_key": "a"},
                              headers={"Idempotency-Key": "b"})
    await assert_problem(mismatch, 422, "validation", "idempotency_key")


async def test_batch_answers_per_job(api: Client) -> None:
    body = {"jobs": [ADD, {**ADD, "idempotency_key": "once"}, {**ADD, "idempotency_key": "once"}]}
    response = await api.post("/jobs/batch", json=body)
    assert response.status == 202
    results = (await response.json())["results"]
    assert [r["status"] for r in results] == [202, 202, 200]
    assert results[1]["id"] == results[2]["id"]
    assert results[0]["location"] == f"/jobs/{results[0]['id']}"
    conflict = {**ADD, "payload": {"a": 9, "b": 9}, "idempotency_key": "once"}
    mixed = await api.post("/jobs/batch", json={"jobs": [ADD, conflict]})
    items = (await mixed.json())["results"]
    assert mixed.status == 202 and items[1]["status"] == 409
    assert items[1]["problem"]["type"] == "urn:streamq:problem:idempotency-conflict"
    refused = await api.post("/jobs/batch", json={"jobs": [conflict]})
    await assert_problem(refused, 409, "idempotency-conflict")


async def test_listing_pages_with_next_cursor(api: Client) -> None:
    ids = [(await (await api.post("/jobs", json=ADD)).json())["id"] for _ in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        query = "limit=2&status=queued" + (f"&cursor={cursor}" if cursor else "")
        page = await (await api.get(f"/jobs?{query}")).json()
        seen += [j["id"] for j in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    by_type = await (await api.get("/jobs?type=email.send")).json()
    assert by_type == {"jobs": [], "next_cursor": None}


async def test_cancel_then_retry(api: Client) -> None:
    job = await (await api.post("/jobs", json=ADD)).json()
    cancelled = await api.delete(f"/jobs/{job['id']}")
    assert cancelled.status == 200 and (await cancelled.json())["status"] == "cancelled"
    await assert_problem(await api.delete(f"/jobs/{job['id']}"), 409, "invalid-transition")
    retried = await api.post(f"/jobs/{job['id']}/retry")
    assert retried.status == 202 and (await retried.json())["status"] == "queued"
    await assert_problem(await api.post(f"/jobs/{job['id']}/retry"), 409,
                         "invalid-transition")


async def test_pause_and_resume_a_queue(api: Client) -> None:
    paused = await api.post("/queues/default/pause?priority=low")
    assert await paused.json() == {"queue": "default", "paused": ["low"]}
    everything = await (await api.post("/queues/default/pause")).json()
    assert everything["paused"] == ["high", "normal", "low"]
    stats = (await (await api.get("/queues")).json())["queues"][0]
    assert stats["paused"] is True
    resumed = await (await api.post("/queues/default/resume")).json()
    assert resumed["paused"] == []
    await assert_problem(await api.post("/queues/default/pause?priority=urgent"), 422,
                         "validation", "priority")


async def test_queues_reports_length_lag_scheduled_per_priority(api: Client) -> None:
    await api.post("/jobs", json={**ADD, "priority": "high"})
    await api.post("/jobs", json={**ADD, "priority": "high"})
    await api.post("/jobs", json={**ADD, "delay": 30})
    [queue] = (await (await api.get("/queues")).json())["queues"]
    high = next(p for p in queue["priorities"] if p["priority"] == "high")
    assert (high["length"], high["lag"], high["pending"]) == (2, 2, 0)
    assert high["stream"] == "streamq:{default}:stream:high"
    assert (queue["queue"], queue["scheduled"], queue["dead"]) == ("default", 1, 0)


async def test_dlq_listing_is_empty_at_first(api: Client) -> None:
    response = await api.get("/dlq?limit=10")
    assert await response.json() == {"entries": [], "next_cursor": None}
