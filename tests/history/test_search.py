"""History search over a real archive: every filter returns exactly the matching jobs, and
keyset pagination pages every match once, ties on the finished time included."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from streamq import ValidationError
from streamq.fingerprint import error_fingerprint
from streamq.history import HistoryArchive, build_filter, history_page
from streamq.history.rows import to_row

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
COUNT = 3_000


def synthetic(i: int, rng: random.Random) -> dict[str, Any]:
    """Job i: finished within 2 days (many sharing a millisecond), mixed types and payloads."""
    status = rng.choice(["succeeded", "succeeded", "failed", "cancelled"])
    finished = T0 + timedelta(milliseconds=rng.randrange(0, 2 * 86_400_000, 1000))
    payload = {"customer": {"id": rng.randrange(20)}, "tags": rng.sample(["a", "b", "c"], 2),
               "ref": str(rng.randrange(20)), "vip": rng.random() < 0.1}
    return {"id": f"job{i:06d}", "run": 1 + (i % 3 == 0), "status": status,
            "type": rng.choice(["mail.send", "report.build"]), "queue": rng.choice(["q1", "q2"]),
            "finished": finished, "payload": payload,
            "error_type": "Timeout" if status == "failed" and i % 2 else
            ("ValueError" if status == "failed" else None)}


def fields(job: dict[str, Any]) -> dict[bytes, bytes]:
    ms = int(job["finished"].timestamp() * 1000)
    f = {"id": job["id"], "run": str(job["run"]), "status": job["status"], "type": job["type"],
         "payload": orjson.dumps(job["payload"]).decode(), "finished": str(ms),
         "priority": "normal", "attempt": "1", "max_retries": "0", "timeout": "1.0",
         "created": str(ms - 10)}
    if job["error_type"]:
        f |= {"error_type": job["error_type"], "error": f"failed after {ms % 97} s"}
    return {k.encode(): v.encode() for k, v in f.items()}


@pytest.fixture
async def jobs(archive: HistoryArchive) -> list[dict[str, Any]]:
    rng = random.Random(14)
    made = [synthetic(i, rng) for i in range(COUNT)]
    rows = [to_row(j["queue"], fields(j)) for j in made]
    for i in range(0, len(rows), 500):
        await archive.write(rows[i : i + 500])
    return made


async def every_page(archive: HistoryArchive, limit: int, **filters: Any) -> list[str]:
    flt = build_filter(**filters)
    seen: list[str] = []
    cursor = None
    while True:
        page = await history_page(archive, flt, limit, cursor)
        seen += [f"{j.id}/{j.run}" for j in page.jobs]
        assert len(page.jobs) == limit or page.next_cursor is None
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def expected(jobs: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool]) -> list[str]:
    chosen = sorted((j for j in jobs if keep(j)),
                    key=lambda j: (j["finished"], j["id"], j["run"]), reverse=True)
    return [f"{j['id']}/{j['run']}" for j in chosen]


CASES: list[Any] = [
    pytest.param({}, lambda j: True, id="everything"),
    pytest.param({"status": "failed"}, lambda j: j["status"] == "failed", id="status"),
    pytest.param({"type": "report.build", "queue": "q2"},
                 lambda j: j["type"] == "report.build" and j["queue"] == "q2", id="type-queue"),
    pytest.param({"payload": {"customer.id": "7"}},
                 lambda j: j["payload"]["customer"]["id"] == 7, id="payload-number"),
    pytest.param({"payload": {"ref": "7"}}, lambda j: j["payload"]["ref"] == "7",
                 id="payload-number-matches-string-too"),
    pytest.param({"payload": {"ref": '"7"', "vip": "true"}},
                 lambda j: j["payload"]["ref"] == "7" and j["payload"]["vip"],
                 id="payload-quoted-string-and-bool"),
    pytest.param({"payload": {"tags": '["a"]'}, "status": "succeeded"},
                 lambda j: "a" in j["payload"]["tags"] and j["status"] == "succeeded",
                 id="payload-array-element"),
    pytest.param({"error_type": "Timeout"}, lambda j: j["error_type"] == "Timeout",
                 id="error-type"),
    pytest.param({"since": T0 + timedelta(hours=10), "until": T0 + timedelta(hours=20)},
                 lambda j: T0 + timedelta(hours=10) <= j["finished"]
                 <= T0 + timedelta(hours=20), id="time-window"),
]


@pytest.mark.parametrize(("filters", "keep"), CASES)
async def test_search_pages_every_match_once_in_order(
    archive: HistoryArchive, jobs: list[dict[str, Any]], filters: dict[str, Any],
    keep: Callable[[dict[str, Any]], bool],
) -> None:
    want = expected(jobs, keep)
    assert want, "the case selects nothing: the data set is wrong"
    assert await every_page(archive, 97, **filters) == want
    first = await history_page(archive, build_filter(**filters), 10)
    assert [f"{j.id}/{j.run}" for j in first.jobs] == want[:10]


async def test_fingerprint_groups_failures_of_one_kind(
    archive: HistoryArchive, jobs: list[dict[str, Any]]
) -> None:
    """The error fingerprint masks the numbers of a message, as in the dead-letter queue."""
    fp = error_fingerprint("Timeout", "failed after 1 s")
    found = await every_page(archive, 200, fingerprint=fp)
    assert found == expected(jobs, lambda j: j["error_type"] == "Timeout")


async def test_a_cursor_is_bound_to_its_filters(
    archive: HistoryArchive, jobs: list[dict[str, Any]]
) -> None:
    page = await history_page(archive, build_filter(status="failed"), 5)
    assert page.next_cursor
    with pytest.raises(ValidationError, match="other filters"):
        await history_page(archive, build_filter(status="succeeded"), 5, page.next_cursor)
    with pytest.raises(ValidationError, match="cursor"):
        await history_page(archive, build_filter(), 5, "not-a-cursor")


@pytest.mark.parametrize(("filters", "field"), [
    ({"status": "queued"}, "status"),
    ({"payload": {"": "1"}}, "payload."),
    ({"payload": {"a..b": "1"}}, "payload.a..b"),
    ({"payload": {f"k{i}": "1" for i in range(11)}}, "payload"),
    ({"since": 10.0, "until": 5.0}, "since"),
    ({"type": ""}, "type"),
    ({"type": "a\x00b"}, "type"),
    ({"payload": {"name": '"a\\u0000"'}}, "payload.name"),
])
def test_bad_filters_are_refused_clearly(filters: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        build_filter(**filters)
    assert info.value.field == field
