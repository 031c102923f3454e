"""LoopHistogram: the per-job histograms without prometheus_client's locks, scraped exactly
as prometheus_client's Histogram shows the same observations."""

from __future__ import annotations

import re

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from streamq.metrics import LoopHistogram

BUCKETS = (0.001, 0.005, 0.01, 1, 300)
VALUES = (0.0, 0.0005, 0.001, 0.0011, 0.5, 1.0, 2.0, 300.0, 301.0)


def _without_created(text: str) -> str:
    return re.sub(r"(?m)^\S+_created\{[^}]*\} \S+$", "", text)


def test_scrapes_like_prometheus_clients_histogram() -> None:
    theirs, ours = CollectorRegistry(auto_describe=True), CollectorRegistry(auto_describe=True)
    reference = Histogram("x_seconds", "doc", ["q", "t"], registry=theirs, buckets=BUCKETS)
    loop = LoopHistogram("x_seconds", "doc", ["q", "t"], registry=ours, buckets=BUCKETS)
    for value in VALUES:
        reference.labels("a", "b").observe(value)
        loop.labels("a", "b").observe(value)
    reference.labels("c", "d")
    loop.labels("c", "d")  # declared, never observed: zeros
    expected = generate_latest(theirs).decode()
    got = generate_latest(ours).decode()
    assert _without_created(got) == _without_created(expected)
    assert 'x_seconds_bucket{le="0.001",q="a",t="b"} 3.0' in got  # le is inclusive
    assert 'x_seconds_count{q="c",t="d"} 0.0' in got
    assert len(re.findall(r"(?m)^x_seconds_created\{", got)) == 2


def test_created_series_follow_prometheus_clients_switch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import prometheus_client.metrics

    monkeypatch.setattr(prometheus_client.metrics, "_use_created", False)  # as the switch does
    registry = CollectorRegistry(auto_describe=True)
    LoopHistogram("z_seconds", "doc", ["q"], registry=registry, buckets=BUCKETS).labels("a")
    text = generate_latest(registry).decode()
    assert "z_seconds_count" in text and "_created" not in text


def test_a_wrong_number_of_labels_is_refused_and_a_duplicate_name_too() -> None:
    registry = CollectorRegistry(auto_describe=True)
    loop = LoopHistogram("y_seconds", "doc", ["q"], registry=registry, buckets=BUCKETS)
    with pytest.raises(ValueError, match="takes labels"):
        loop.labels("a", "b")
    with pytest.raises(ValueError, match="Duplicated"):
        Histogram("y_seconds", "doc", registry=registry)
