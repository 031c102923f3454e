"""pause.lua: pause a whole queue or single priorities | resume them | a legacy whole-queue
pause ('*') is expanded when one priority is resumed | the reply lists the priorities paused
after the change, as fetch.lua sees them."""

from __future__ import annotations

import pytest

from streamq.keys import PRIORITIES
from streamq.store import Store

from .conftest import Table
from .redis_state import NOW, K, Q, State, Stream, entry, seed

ALL = list(PRIORITIES)
SINCE = str(NOW - 5_000)
"""When an earlier pause was written."""


async def pause(store: Store, action: str, *priorities: str) -> list[str]:
    return await store.set_paused(Q, priorities, paused=action == "pause")


def paused(*priorities: str, since: str = str(NOW)) -> State:
    return {K.paused: dict.fromkeys(priorities, since)}


EVERY = paused(*ALL, since=SINCE)
LEGACY = {K.paused: {"*": SINCE}}

CASES = [
    pytest.param({}, ["pause", *ALL], ALL, paused(*ALL), id="pause-queue"),
    pytest.param({}, ["pause", "low"], ["low"], paused("low"), id="pause-one-priority"),
    pytest.param(
        paused("low", since=SINCE), ["pause", "high"], ["high", "low"],
        {K.paused: {"low": SINCE, "high": str(NOW)}}, id="pause-another-priority-adds-it",
    ),
    pytest.param(EVERY, ["resume", *ALL], [], {}, id="resume-queue"),
    pytest.param(
        EVERY, ["resume", "normal"], ["high", "low"], paused("high", "low", since=SINCE),
        id="resume-one-priority-of-a-paused-queue",
    ),
    pytest.param(
        paused("low", since=SINCE), ["resume", "high"], ["low"], paused("low", since=SINCE),
        id="resume-a-priority-not-paused-changes-nothing",
    ),
    pytest.param({}, ["resume", *ALL], [], {}, id="resume-nothing-paused"),
    pytest.param(
        LEGACY, ["resume", "high"], ["normal", "low"], paused("normal", "low", since=SINCE),
        id="legacy-star-expanded-when-one-priority-resumes",
    ),
    pytest.param(LEGACY, ["resume", *ALL], [], {}, id="legacy-star-resume-queue"),
    pytest.param(
        {K.paused: {"*": SINCE, "low": str(NOW - 100)}}, ["resume", "high"], ["normal", "low"],
        {K.paused: {"normal": SINCE, "low": str(NOW - 100)}},
        id="legacy-star-expanded-keeps-a-priority-paused-since-later",
    ),
    pytest.param(
        LEGACY, ["pause", "high"], ALL, {K.paused: {"*": SINCE, "high": str(NOW)}},
        id="legacy-star-still-pauses-every-priority",
    ),
]


@pytest.mark.parametrize(("before", "call", "reply", "after"), CASES)
async def test_pause(
    table: Table, before: State, call: list[str], reply: list[str], after: State
) -> None:
    await table.check(before, lambda: pause(table.store, *call), reply, after)


async def test_fetch_skips_what_pause_wrote_and_resumes_where_it_was(table: Table) -> None:
    store = table.store
    await seed(table.redis, {
        K.stream(p): Stream([("1-0", entry(f"j-{p}"))], {}, "0-0") for p in ALL
    })

    async def fetch() -> tuple[list[str], list[str]]:
        result = await store.fetch(Q, ALL, "w1", 10)
        return result.active_priorities, [d.job_id for d in result.deliveries]

    await pause(store, "pause", "high")
    assert await fetch() == (["normal", "low"], ["j-normal", "j-low"])
    await pause(store, "pause", *ALL)
    assert await fetch() == ([], [])
    await pause(store, "resume", *ALL)
    await table.redis.xadd(K.stream("low"), entry("j-low2"), id="2-0")  # type: ignore[arg-type]
    assert await fetch() == (ALL, ["j-high", "j-low2"])
