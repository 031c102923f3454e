"""The client commands through click's runner: output, --json, exit codes, settings."""

from __future__ import annotations

import json
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from streamq import Settings
from streamq.cli import main
from tests.api import tasks

APP = "tests.api.tasks:app"


@pytest.fixture
def run(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    # The tasks module was imported with the environment of its first import: give the
    # commands an app on this test's Redis (never the machine's own server).
    monkeypatch.setattr(tasks, "app", tasks.make_app(Settings(redis_url=redis_url)))

    def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
        runner = CliRunner()
        base = {"STREAMQ_REDIS_URL": redis_url, "STREAMQ_APP": APP}
        return runner.invoke(main, list(args), env={**base, **(env or {})})

    return invoke


def test_enqueue_job_and_jobs(run: Any) -> None:
    enqueued = run("enqueue", "math.add", "--payload", '{"a": 1, "b": 2}', "--priority",
                   "high", "--json")
    assert enqueued.exit_code == 0, enqueued.output
    job_id = json.loads(enqueued.output)["id"]
    shown = run("job", job_id, "--json")
    assert json.loads(shown.output)["priority"] == "high"
    human = run("job", job_id)
    assert "status" in human.output and "queued" in human.output
    listed = run("jobs", "--status", "queued")
    assert job_id in listed.output and listed.output.startswith("ID")
    as_json = run("jobs", "--limit", "1", env={"STREAMQ_JSON": "1"})
    assert json.loads(as_json.output)["jobs"][0]["id"] == job_id


@pytest.mark.parametrize(("args", "env", "code"), [
    (("job", "no-such-job"), {}, 3),
    (("enqueue", "math.add", "--payload", '{"a": "x"}'), {}, 5),
    (("enqueue", "no.such.task"), {}, 5),
    (("enqueue", "math.add", "--payload", "{not json"), {}, 5),
    (("jobs", "--limit", "0"), {}, 2),
    (("dlq", "delete", "x"), {}, 2),
    (("dlq", "purge"), {}, 2),
    (("dlq", "retry"), {}, 2),
    # no APP: the test process imported the tasks module already, with its settings
    (("check",), {"STREAMQ_REDIS_URL": "redis://127.0.0.1:1/0", "STREAMQ_APP": None}, 4),
    (("check",), {"STREAMQ_CONCURRENCY": "lots"}, 2),
    (("jobs",), {"STREAMQ_APP": "no_such_module:app"}, 2),
])
def test_documented_exit_codes(run: Any, args: tuple[str, ...], env: dict[str, str | None],
                               code: int) -> None:
    result = run(*args, env=env)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output


def test_bad_setting_names_its_variable(run: Any) -> None:
    result = run("check", env={"STREAMQ_VISIBILITY_TIMEOUT_MS": "-5"})
    assert result.exit_code == 2
    assert "STREAMQ_VISIBILITY_TIMEOUT_MS" in result.output


def test_pause_resume_inspect_and_check(run: Any) -> None:
    paused = run("queue", "pause", "default", "--priority", "low", "--json")
    assert json.loads(paused.output) == {"queue": "default", "paused": ["low"]}
    inspected = run("inspect")
    assert "XINFO GROUPS 'streamq:{default}:stream:high'" in inspected.output
    rows = [line.split() for line in inspected.output.splitlines() if line.startswith("default")]
    assert [r[1] for r in rows] == ["high", "normal", "low"] and rows[2][7] == "yes"
    stats = json.loads(run("inspect", "--json").output)["queues"][0]
    assert [p["paused"] for p in stats["priorities"]] == [False, False, True]
    assert "nothing" in run("queue", "resume", "default").output
    assert run("check").exit_code == 0
    unhealthy = run("check", "--min-workers", "1")
    assert unhealthy.exit_code == 1


def _commands(group: click.Group, ctx: click.Context) -> list[tuple[click.Command, click.Context]]:
    found: list[tuple[click.Command, click.Context]] = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        sub = click.Context(command, info_name=name, parent=ctx)
        found += _commands(command, sub) if isinstance(command, click.Group) else [(command, sub)]
    return found


def test_help_shows_the_variable_of_every_option() -> None:
    root = click.Context(main, info_name="streamq", auto_envvar_prefix="STREAMQ")
    missing = []
    for command, ctx in [(main, root), *_commands(main, root)]:
        for param in command.get_params(ctx):
            if isinstance(param, click.Option) and "--help" not in param.opts:
                record = param.get_help_record(ctx)
                if record is None or "env var: STREAMQ_" not in record[1]:
                    missing.append(f"{ctx.command_path} {param.opts[-1]}")
    assert missing == []
