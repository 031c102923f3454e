"""Pure parts: job ids, backoff and retry decisions, priority order, settings."""

from __future__ import annotations

import random
import threading

import pytest
from pydantic import ValidationError as PydanticValidationError

from streamq import Backoff, Settings
from streamq.ids import job_id_time_ms, new_job_id
from streamq.policy import PriorityOrder, decide_failure
from streamq.settings import parse_priority_weights


def test_job_ids_are_unique_and_sorted_by_creation_across_threads() -> None:
    ids: list[str] = []
    lock = threading.Lock()

    def make() -> None:
        local = [new_job_id() for _ in range(5000)]
        assert local == sorted(local)
        with lock:
            ids.extend(local)

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 20_000
    assert all(len(i) == 32 for i in ids)
    first, last = min(ids), max(ids)
    assert job_id_time_ms(first) <= job_id_time_ms(last)


@pytest.mark.parametrize("attempt, ceiling", [(1, 1.0), (2, 2.0), (3, 4.0), (10, 60.0)])
def test_backoff_ceiling_doubles_up_to_the_cap(attempt: int, ceiling: float) -> None:
    assert Backoff(1.0, 60.0).ceiling_s(attempt) == ceiling


def test_full_jitter_spreads_below_the_ceiling() -> None:
    rng = random.Random(1)
    draws = [Backoff(1.0, 60.0).delay_s(4, rng) for _ in range(2000)]
    assert 0 <= min(draws) < 0.5 and 7.5 < max(draws) <= 8.0
    assert 3.5 < sum(draws) / len(draws) < 4.5


def test_retry_decision_counts_attempts_and_respects_signals() -> None:
    b = Backoff(1.0, 10.0, jitter="none")
    assert decide_failure(1, 3, b).retry and decide_failure(1, 3, b).delay_ms == 1000
    assert decide_failure(3, 3, b).delay_ms == 4000
    last = decide_failure(4, 3, b)
    assert not last.retry and last.reason == "retries exhausted"
    assert decide_failure(1, 3, b, requested_delay_s=7.5).delay_ms == 7500
    assert not decide_failure(1, 3, b, final=True, reason="bad").retry


def test_strict_order_is_fixed_and_weighted_order_follows_the_weights() -> None:
    assert tuple(PriorityOrder().next()) == ("high", "normal", "low")
    order = PriorityOrder({"high": 6, "normal": 3, "low": 1}, random.Random(3))
    firsts = [order.next()[0] for _ in range(10_000)]
    assert 5500 < firsts.count("high") < 6500
    assert 700 < firsts.count("low") < 1300


def test_priority_weights_parse_with_the_medium_alias() -> None:
    assert parse_priority_weights("high=6, medium=3,low=1") == {"high": 6, "normal": 3, "low": 1}
    with pytest.raises(ValueError, match="expected name=integer"):
        parse_priority_weights("high=fast")


def test_a_bad_setting_fails_at_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STREAMQ_VISIBILITY_TIMEOUT_MS", "10")
    with pytest.raises(PydanticValidationError, match="visibility_timeout_ms"):
        Settings()
    monkeypatch.setenv("STREAMQ_VISIBILITY_TIMEOUT_MS", "5000")
    monkeypatch.setenv("STREAMQ_PRIORITY_WEIGHTS", "urgent=3")
    with pytest.raises(PydanticValidationError, match="unknown priorities"):
        Settings()
    monkeypatch.setenv("STREAMQ_PRIORITY_WEIGHTS", "high=5,low=2")
    assert Settings().priority_weights == {"high": 5, "normal": 1, "low": 2}


def test_blocking_read_must_be_shorter_than_the_socket_timeout() -> None:
    with pytest.raises(PydanticValidationError, match="fetch_block_ms"):
        Settings(fetch_block_ms=5_000, redis_timeout_s=2.0)
