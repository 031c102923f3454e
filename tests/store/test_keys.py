"""Every key of one queue hashes to one Redis Cluster slot (the `{queue}` hash tag)."""

from __future__ import annotations

import inspect
import re

import pytest
from redis.crc import key_slot

from streamq.keys import PRIORITIES, STATUSES, QueueKeys
from streamq.scripts import SCRIPT_NAMES, script_source


def crc16(data: bytes) -> int:
    """CRC16-CCITT (XMODEM), the checksum Redis Cluster uses."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def slot(key: str) -> int:
    """The cluster slot of a key, by the spec: the hash tag is what lies between the first
    `{` and the next `}`, when that is not empty; otherwise the whole key."""
    raw = key.encode()
    start = raw.find(b"{")
    if start >= 0:
        end = raw.find(b"}", start + 1)
        if end > start + 1:
            raw = raw[start + 1 : end]
    return crc16(raw) % 16384


SAMPLE_ARG = "x{y}z:1"
"""Passed to every per-job or per-name key builder: braces in it must not matter."""


def every_key(keys: QueueKeys) -> list[str]:
    """Every name QueueKeys builds, found by introspection so that keys added later are
    checked too: properties, one-argument builders, and `all_static()`."""
    names: list[str] = [*keys.all_static(), *keys.streams]
    names += [keys.index(s) for s in STATUSES] + [keys.stream(p) for p in PRIORITIES]
    for name, member in inspect.getmembers(type(keys)):
        if name.startswith("_") or name in ("prefix", "queue", "base"):
            continue
        if isinstance(member, property):
            value = getattr(keys, name)
        elif inspect.isfunction(member) and len(inspect.signature(member).parameters) == 2:
            value = getattr(keys, name)(SAMPLE_ARG)
        else:
            continue
        names += value if isinstance(value, list) else [value]
    return names


def test_crc16_matches_the_cluster_spec_vector() -> None:
    assert crc16(b"123456789") == 0x31C3
    assert slot("{user1000}.following") == slot("{user1000}.followers") == 3443


@pytest.mark.parametrize("prefix", ["streamq", "app:jobs"])
@pytest.mark.parametrize("queue", ["default", "emails", "a:b", "ünï", "a}b", "{x", "q 1"])
def test_all_keys_of_a_queue_share_one_slot(prefix: str, queue: str) -> None:
    keys = QueueKeys(prefix, queue)
    names = every_key(keys)
    assert len(names) >= 25
    expected = slot("{" + queue + "}")
    slots = {name: (slot(name), key_slot(name.encode())) for name in names}
    assert slots == {name: (expected, expected) for name in names}


def test_every_key_is_named_under_the_queue() -> None:
    keys = QueueKeys("streamq", "emails")
    for name in every_key(keys):
        assert name.startswith("streamq:{emails}:"), name


def test_queues_spread_over_slots() -> None:
    slots = {slot(QueueKeys("streamq", f"queue-{i}").job("j")) for i in range(50)}
    assert len(slots) > 40


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_scripts_build_no_key_names(name: str) -> None:
    """A key built inside Lua is invisible to Redis Cluster: every key comes from KEYS,
    so no script holds a key prefix or glues a name together with `:`."""
    source = script_source(name)
    assert "streamq" not in source
    assert re.search(r"""['"][^'"]*:[^'"]*['"]\s*\.\.|\.\.\s*['"][^'"]*:""", source) is None
