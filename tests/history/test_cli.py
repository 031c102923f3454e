"""`streamq history migrate|search|show` through click's runner: output, --json and the
documented exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from click.testing import CliRunner, Result

from streamq.cli import main
from streamq.history import HistoryArchive
from streamq.history.rows import to_row


@pytest.fixture
def run(redis_url: str, history_url: str) -> Any:
    def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
        base = {"STREAMQ_REDIS_URL": redis_url, "STREAMQ_HISTORY_URL": history_url,
                "STREAMQ_APP": None}
        return CliRunner().invoke(main, ["history", *args], env={**base, **(env or {})})

    return invoke


def seed(url: str) -> None:
    async def go() -> None:
        archive = HistoryArchive(url, retention_days=30)
        ms = int(datetime.now(UTC).timestamp() * 1000)
        rows = [to_row("default", {
            b"id": f"job{i}".encode(), b"run": b"1", b"status": b"failed" if i % 2 else
            b"succeeded", b"type": b"mail.send", b"finished": str(ms + i).encode(),
            b"payload": json.dumps({"customer": i % 3}).encode(), b"priority": b"normal",
            b"error_type": b"Timeout" if i % 2 else b"", b"error": b"late" if i % 2 else b"",
        }) for i in range(9)]
        await archive.write(rows)
        await archive.close()

    anyio.run(go)


def test_migrate_search_show(run: Any, history_url: str) -> None:
    first = run("migrate")
    assert first.exit_code == 0 and "migrated to version 1" in first.output, first.output
    again = run("migrate", "--json")
    assert json.loads(again.output) == {"applied": [], "version": 1}
    seed(history_url)
    found = run("search", "--payload", "customer=1", "--status", "failed")
    assert found.exit_code == 0, found.output
    assert found.output.startswith("ID") and {"job1", "job7"} <= set(found.output.split())
    assert "job4" not in found.output  # customer 1 but succeeded
    page = run("search", "--limit", "4", "--json")
    body = json.loads(page.output)
    assert [j["id"] for j in body["jobs"]] == ["job8", "job7", "job6", "job5"]
    rest = json.loads(run("search", "--limit", "4", "--json", "--cursor",
                          body["next_cursor"]).output)
    assert [j["id"] for j in rest["jobs"]] == ["job4", "job3", "job2", "job1"]
    shown = run("show", "job3", "--json")
    assert json.loads(shown.output)["source"] == "history"
    assert "Timeout" in run("show", "job3").output


@pytest.mark.parametrize(("args", "env", "code"), [
    (("show", "nope"), {}, 3),
    (("search", "--payload", "a..b=1"), {}, 5),
    (("search", "--payload", "no-equals"), {}, 2),
    (("search", "--since", "yesterday"), {}, 2),
    (("search", "--status", "queued"), {}, 2),
    (("search",), {"STREAMQ_HISTORY_URL": None}, 2),
    (("migrate",), {"STREAMQ_HISTORY_URL": "postgresql://postgres@127.0.0.1:1/x"}, 4),
    (("search",), {"STREAMQ_HISTORY_URL": "mysql://x"}, 2),
])
def test_documented_exit_codes(run: Any, args: tuple[str, ...], env: dict[str, str | None],
                               code: int) -> None:
    run("migrate")
    result = run(*args, env=env)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
