"""The cluster shard benchmark's arithmetic: per-primary medians, the shards' load spread
and the projection from the busiest primary (the runs themselves need a cluster and take
minutes: `python -m benchmarks.cluster_shards`)."""

from __future__ import annotations

from benchmarks.cluster_shards import summarize_runs, table


def _run(throughput: float, drain: dict[int, float], enqueue: dict[int, float],
         homes: list[int]) -> dict[str, object]:
    return {"throughput": throughput, "drain_s": 1.0, "drain_cpu_us": drain,
            "enqueue_cpu_us": enqueue, "worker_cpu_us": 300.0, "homes": homes}


def test_three_shards_summarised_per_primary() -> None:
    runs = [
        _run(900, {1: 70, 2: 77, 3: 63}, {1: 30, 2: 30, 3: 30}, [1, 2, 3]),
        _run(1000, {1: 70, 2: 70, 3: 70}, {1: 30, 2: 30, 3: 30}, [1, 2, 3]),
        _run(1100, {1: 70, 2: 63, 3: 77}, {1: 30, 2: 30, 3: 30}, [1, 2, 3]),
    ]
    row = summarize_runs(3, runs)
    assert row["throughput_jobs_s"] == {"median": 1000, "min": 900, "max": 1100, "n": 3}
    assert row["drain_cpu_us_per_job_by_primary"] == {"1": 70, "2": 70, "3": 70}
    assert row["shard_load_max_dev_pct"] == 0.0
    assert row["redis_cpu_us_per_job_total"] == 300
    assert row["projected_redis_bound_jobs_s"] == 10_000  # 1e6 / (70 + 30)
    assert "10,000" in table([row])


def test_one_shard_loads_one_primary() -> None:
    row = summarize_runs(1, [_run(800, {1: 200, 2: 5, 3: 5}, {1: 50, 2: 2, 3: 2}, [1])])
    assert (row["primaries_used"], row["projected_redis_bound_jobs_s"]) == (1, 4000)
