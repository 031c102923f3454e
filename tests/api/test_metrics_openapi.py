"""/metrics (request and queue gauges, bounded labels) and /openapi.json (task schemas)."""

from __future__ import annotations

from tests.api.conftest import Client, StartApi

ADD = {"type": "math.add", "payload": {"a": 1, "b": 2}}


async def test_metrics_count_requests_by_route_and_report_queue_gauges(api: Client) -> None:
    await api.post("/jobs", json=ADD)
    await api.post("/jobs", json={**ADD, "priority": "high"})
    await api.get("/jobs/some-id")
    text = await (await api.get("/metrics")).text()
    assert 'streamq_queue_length{priority="high",queue="default"} 1.0' in text
    assert 'streamq_queue_lag{priority="normal",queue="default"} 1.0' in text
    assert 'streamq_queue_scheduled{queue="default"} 0.0' in text
    assert "streamq_queue_stats_up 1.0" in text
    assert 'streamq_jobs_enqueued_total{queue="default",task="math.add"}' in text
    assert 'route="/jobs/{id}",status="404"' in text  # the template, never the id
    assert "some-id" not in text


async def test_queue_gauges_can_be_left_to_another_collector(start_api: StartApi) -> None:
    api = await start_api(queue_metrics=False)
    text = await (await api.get("/metrics")).text()
    assert "streamq_queue_length" not in text and "streamq_http_requests_total" in text


async def test_openapi_holds_each_tasks_payload_schema(api: Client) -> None:
    spec = await (await api.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    add = schemas["math_add_payload"]
    assert add["required"] == ["a", "b"] and add["properties"]["a"]["type"] == "integer"
    assert add["additionalProperties"] is False
    body = spec["paths"]["/jobs"]["post"]["requestBody"]["content"]["application/json"]
    assert set(body["schema"]["discriminator"]["mapping"]) == {
        "always.fails", "email.send", "math.add", "slow.sleep"}
    assert "application/problem+json" in spec["paths"]["/jobs"]["post"]["responses"]["422"][
        "content"]
    assert set(spec["paths"]) >= {"/jobs", "/jobs/batch", "/jobs/{id}", "/jobs/{id}/retry",
                                  "/dlq", "/dlq/{id}/retry", "/dlq/{id}", "/queues",
                                  "/queues/{name}/pause", "/queues/{name}/resume", "/livez",
                                  "/healthz", "/readyz", "/metrics", "/openapi.json"}
