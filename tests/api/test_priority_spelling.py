"""One priority spelling rule everywhere: the library, the HTTP API and the CLI accept the
same spellings (any case, `medium` for `normal`) and refuse the same ones."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from streamq import Priority, ValidationError
from streamq.cli import main
from tests.api.conftest import Client

SPELLINGS = [("high", "high"), ("HIGH", "high"), ("High", "high"), ("medium", "normal"),
             ("MEDIUM", "normal"), ("Normal", "normal"), ("low", "low"), ("LOW", "low")]
REFUSED = ["urgent", "", "hi gh"]


@pytest.mark.parametrize(("given", "stored"), SPELLINGS)
def test_library_parses(given: str, stored: str) -> None:
    assert Priority.parse(given).value == stored


@pytest.mark.parametrize("given", REFUSED)
def test_library_refuses(given: str) -> None:
    with pytest.raises(ValidationError):
        Priority.parse(given)


@pytest.mark.parametrize(("given", "stored"), SPELLINGS)
async def test_http_api_accepts_what_the_library_accepts(
    api: Client, given: str, stored: str
) -> None:
    reply = await api.post("/jobs", json={"type": "math.add", "payload": {"a": 1, "b": 2},
                                          "priority": given})
    assert reply.status == 202, await reply.text()
    assert (await reply.json())["priority"] == stored
    paused = await api.post(f"/queues/default/pause?priority={given}")
    assert (await paused.json())["paused"] == [stored]
    await api.post("/queues/default/resume")


@pytest.mark.parametrize("given", REFUSED)
async def test_http_api_refuses_what_the_library_refuses(api: Client, given: str) -> None:
    reply = await api.post("/jobs", json={"type": "math.add", "payload": {"a": 1, "b": 2},
                                          "priority": given})
    assert reply.status == 422
    assert (await reply.json())["field"] == "priority"


@pytest.mark.parametrize(("given", "stored"), SPELLINGS)
def test_cli_accepts_what_the_library_accepts(redis_url: str, given: str, stored: str) -> None:
    runner = CliRunner()
    env = {"STREAMQ_REDIS_URL": redis_url, "STREAMQ_APP": None}
    enqueued = runner.invoke(main, ["enqueue", "math.add", "--payload", '{"a": 1, "b": 2}',
                                    "--priority", given, "--no-validate"], env=env)
    assert enqueued.exit_code == 0, enqueued.output
    shown = runner.invoke(main, ["job", enqueued.output.strip(), "--json"], env=env)
    assert json.loads(shown.output)["priority"] == stored
