"""Every return code of every script has exactly one meaning in the store.

The codes a script returns are read three ways and must agree: its contract header's
`Returns` line (each code opens one `|`-separated alternative), the literal codes its body
returns, and its enum in `streamq/store/codes.py` (named after the script), whose every
member `ERRORS` maps to one typed error or None. Where the store raises for a code, it
raises that very error.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from enum import IntEnum
from importlib import resources

import pytest

from streamq.errors import StreamqError
from streamq.scripts import SCRIPT_NAMES
from streamq.store import EnqueueSpec, Store
from streamq.store.codes import (
    CODES,
    ERRORS,
    CancelCode,
    EnqueueCode,
    RequeueCode,
    error_for,
)

from .conftest import Table
from .redis_state import PAYLOAD, TYPE, K, Q, Ttl, ZSet, record, running, seed

_CODE = re.compile(r"\{?\s*(-?\d+)\b")
_BODY_CODES = (
    re.compile(r"return\s*\{\s*(-?\d+)\s*,"),
    re.compile(r"return\s+(-?\d+)\s*(?:end|$)", re.MULTILINE),
    re.compile(r"table\.insert\(out,\s*(-?\d+)\)"),
    re.compile(r"out\[#out \+ 1\]\s*=\s*(-?\d+)\s*(?:;|$)", re.MULTILINE),
)


def source(name: str) -> str:
    return (resources.files("streamq") / "lua" / f"{name}.lua").read_text()


def header_codes(name: str) -> set[int]:
    """The codes the `Returns` line of a script's contract header lists."""
    text = source(name)
    header = text[text.index("--[[") : text.index("]]")]
    returns = " ".join(header[header.index("Returns") + len("Returns") :].split())
    codes: set[int] = set()
    for i, alternative in enumerate(returns.split("|")):
        alternative = alternative.strip()
        if i == 0 and not _CODE.match(alternative):  # "one code per entry: 1 applied"
            alternative = alternative.partition(":")[2].strip()
        found = _CODE.match(alternative)
        if found:
            codes.add(int(found.group(1)))
    return codes


def body_codes(name: str) -> set[int]:
    """The literal codes a script's body returns, or puts into its reply list."""
    text = source(name)
    body = text[text.index("]]") :]
    return {int(m) for pattern in _BODY_CODES for m in pattern.findall(body)}


def enum_name(script: str) -> str:
    return "".join(part.title() for part in script.split("_")) + "Code"


ENUMS = {e.__name__: e for e in CODES}


def test_the_header_parser_reads_each_form() -> None:
    assert header_codes("enqueue") == {1, 0, -1, -2}
    assert header_codes("finish") == {1, 0, -1, 2, 3}
    assert header_codes("start") == {-1, 0}
    assert header_codes("promote") == header_codes("fetch") == set()


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_a_script_returning_codes_has_its_enum_matching_its_header(name: str) -> None:
    listed, returned = header_codes(name), body_codes(name)
    assert listed == returned, f"{name}.lua returns {returned}, its header lists {listed}"
    enum = ENUMS.get(enum_name(name))
    if not listed:
        assert enum is None, f"{enum_name(name)} but {name}.lua lists no codes"
        return
    assert enum is not None, f"{name}.lua returns codes {listed}: no {enum_name(name)}"
    assert {int(member) for member in enum} == listed


def test_every_enum_belongs_to_a_script() -> None:
    assert {e.__name__ for e in CODES} <= {enum_name(n) for n in SCRIPT_NAMES}
    assert len(set(CODES)) == len(CODES)


@pytest.mark.parametrize("enum", CODES, ids=lambda e: e.__name__)
def test_every_code_maps_to_one_typed_error_or_none(enum: type[IntEnum]) -> None:
    assert set(ERRORS) == set(CODES)
    table = ERRORS[enum]
    assert list(table) == list(enum), "one entry per member, in the enum's order"
    for member in enum:
        error = error_for(member)
        assert error is table[member]
        assert error is None or (
            isinstance(error, type) and issubclass(error, StreamqError) and error
            is not StreamqError
        ), (member, error)


async def enqueue_with_key(store: Store, job_id: str, fingerprint: str) -> object:
    spec = EnqueueSpec(Q, job_id, TYPE, PAYLOAD.encode(), "normal", 3, 30.0,
                       idempotency_key="k", fingerprint=fingerprint)
    return await store.enqueue([spec])


REFUSALS = [
    pytest.param({}, lambda s: s.cancel(Q, "j1"), CancelCode.NO_RECORD, id="cancel-missing"),
    pytest.param(
        {K.job("j1"): Ttl(running(status="succeeded"), 60)}, lambda s: s.cancel(Q, "j1"),
        CancelCode.ALREADY_FINISHED, id="cancel-finished",
    ),
    pytest.param({}, lambda s: s.requeue(Q, "j1"), RequeueCode.NO_RECORD,
                 id="requeue-missing"),
    pytest.param(
        {K.job("j1"): record("queued")}, lambda s: s.requeue(Q, "j1"),
        RequeueCode.NOT_RETRYABLE, id="requeue-not-failed",
    ),
    pytest.param(
        {K.idempotency("k"): "j0|other"}, lambda s: enqueue_with_key(s, "j1", "fp"),
        EnqueueCode.KEY_CONFLICT, id="enqueue-key-conflict",
    ),
]


@pytest.mark.parametrize(("before", "call", "code"), REFUSALS)
async def test_the_store_raises_the_error_its_code_maps_to(
    table: Table, before: dict[str, object], call: Callable[[Store], Awaitable[object]],
    code: IntEnum,
) -> None:
    await seed(table.redis, before)
    error = error_for(code)
    assert error is not None
    with pytest.raises(error):
        await call(table.store)


async def test_a_full_queue_raises_the_error_its_code_maps_to(table: Table) -> None:
    await seed(table.redis, {K.index("queued"): ZSet({"a": 1})})
    error = error_for(EnqueueCode.QUEUE_FULL)
    assert error is not None
    with pytest.raises(error):
        await enqueue_with_key(table.store_with(max_backlog=1), "j1", "fp")
