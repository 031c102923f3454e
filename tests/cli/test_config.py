"""The settings file (streamq.toml or [tool.streamq]) read by every command under the
environment; `streamq config` tells where each setting came from, secrets masked;
misspelled variables and keys are named with the closest valid one; client commands say
which Redis they talk to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from streamq import App, Settings
from streamq.cli import main
from streamq.config_report import redis_origin


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory of the test's own, with no STREAMQ_* variable set."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("STREAMQ_")]:
        monkeypatch.delenv(name)
    return tmp_path


def cli(*args: str, **env: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def settings_of(result: Result) -> dict[str, dict[str, str]]:
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in json.loads(result.output)["settings"]}


def test_streamq_toml_sets_what_the_environment_does_not(here: Path) -> None:
    (here / "streamq.toml").write_text(
        'concurrency = 7\nqueue = "from-file"\napi_token = "s3cret"\n'
        'redis_url = "redis://:pw@127.0.0.1:1/0"\n')
    rows = settings_of(cli("config", "--json", STREAMQ_QUEUE="from-env"))
    assert rows["concurrency"] == {"name": "concurrency", "variable": "STREAMQ_CONCURRENCY",
                                   "value": "7", "source": "streamq.toml"}
    assert (rows["queue"]["value"], rows["queue"]["source"]) == (
        "from-env", "environment STREAMQ_QUEUE")
    assert (rows["api_token"]["value"], rows["redis_url"]["value"]) == (
        "***", "redis://:***@127.0.0.1:1/0")
    assert (rows["prefix"]["value"], rows["prefix"]["source"]) == ("streamq", "default")
    text = cli("config").output
    assert "s3cret" not in text and "pw@" not in text
    assert text.splitlines()[0] == f"settings file: {here / 'streamq.toml'}"


def test_pyproject_table_and_dotenv(here: Path) -> None:
    (here / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.streamq]\n'
                                         'max_retries = 9\nprefix = "pp"\n')
    (here / ".env").write_text("STREAMQ_PREFIX=from-dotenv\n")
    rows = settings_of(cli("config", "--json"))
    assert (rows["max_retries"]["value"], rows["max_retries"]["source"]) == (
        "9", "pyproject.toml [tool.streamq]")
    assert (rows["prefix"]["value"], rows["prefix"]["source"]) == ("from-dotenv", ".env")
    (here / "streamq.toml").write_text("max_retries = 4\n")  # streamq.toml comes first
    assert settings_of(cli("config", "--json"))["max_retries"]["value"] == "4"


def test_streamq_config_names_the_file(here: Path) -> None:
    other = here / "conf" / "prod.toml"
    other.parent.mkdir()
    other.write_text("concurrency = 3\n")
    rows = settings_of(cli("config", "--json", STREAMQ_CONFIG=str(other)))
    assert (rows["concurrency"]["value"], rows["concurrency"]["source"]) == ("3", "prod.toml")
    missing = cli("config", STREAMQ_CONFIG=str(here / "nope.toml"))
    assert missing.exit_code == 2
    assert missing.output == (
        f"error: STREAMQ_CONFIG names {here / 'nope.toml'}, which is not a file\n")


@pytest.mark.parametrize(("text", "message"), [
    ("concurency = 7\n", "error: streamq.toml: 'concurency' is not a setting; did you mean "
                         "'concurrency'?\n"),
    ('concurrency = "lots"\n', "error: concurrency (in streamq.toml): Input should be a valid "
                               "integer, unable to parse string as an integer\n"),
    ("concurrency = \n", "error: streamq.toml is not valid TOML: Invalid value (at line 1, "
                         "column 15)\n"),
])
def test_a_bad_file_is_one_line_and_exit_code_2(here: Path, text: str, message: str) -> None:
    (here / "streamq.toml").write_text(text)
    result = cli("jobs")
    assert (result.exit_code, result.output) == (2, message)


def test_a_bad_variable_still_names_the_variable(here: Path) -> None:
    result = cli("check", STREAMQ_CONCURRENCY="lots")
    assert result.exit_code == 2
    assert result.output.startswith("error: STREAMQ_CONCURRENCY: Input should be")


def test_the_library_reads_the_file_too(here: Path) -> None:
    (here / "streamq.toml").write_text('queue = "lib"\n')
    assert App().settings.queue == "lib"


def test_every_command_reads_the_file(here: Path, redis_url: str) -> None:
    """A worker process takes its Redis, queue and concurrency from streamq.toml."""
    (here / "streamq.toml").write_text(f'redis_url = "{redis_url}"\nconcurrency = 7\n'
                                       'queue = "filed"\n')
    env = {"PATH": os.environ["PATH"]}
    result = subprocess.run([sys.executable, "-m", "streamq", "worker", "streamq.demo:app",
                             "--burst"], cwd=here, env=env, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    assert "queues filed, concurrency 7" in result.stderr
    check = subprocess.run([sys.executable, "-m", "streamq", "-v", "check"], cwd=here,
                           env=env, capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    assert check.stderr == f"Redis: {redis_url} (from streamq.toml)\n"


def test_misspelled_variables_are_warned_about(here: Path, redis_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streamq", "check"], cwd=here, capture_output=True, text=True,
        env={"PATH": os.environ["PATH"], "STREAMQ_REDIS_URL": redis_url,
             "STREAMQ_CONCURENCY": "5", "STREAMQ_WHATEVER": "1", "STREAMQ_JOBS_TYPE": "x"},
        timeout=30)
    assert result.returncode == 0, result.stderr
    warnings = [line.split("streamq: ", 1)[1] for line in result.stderr.splitlines()]
    assert warnings == [
        "unknown variable STREAMQ_CONCURENCY is ignored; did you mean STREAMQ_CONCURRENCY?",
        "unknown variable STREAMQ_WHATEVER is ignored",
    ]


def test_client_commands_say_which_redis(here: Path, redis_url: str) -> None:
    verbose = cli("-v", "jobs", STREAMQ_REDIS_URL=redis_url)
    assert verbose.exit_code == 0
    assert verbose.output.splitlines()[0] == (
        f"Redis: {redis_url} (from environment STREAMQ_REDIS_URL)")
    missing = cli("job", "nope", STREAMQ_REDIS_URL=redis_url)
    assert missing.exit_code == 3
    assert missing.output == (f"error: no job 'nope' [Redis: {redis_url} (from environment "
                              "STREAMQ_REDIS_URL)]\n")
    assert redis_origin(Settings()) == (
        "redis://127.0.0.1:6379/0 (the default: STREAMQ_REDIS_URL is unset)")
    assert redis_origin(Settings(redis_url="redis://10.0.0.1/0")) == (
        "redis://10.0.0.1/0 (set in the app's code)")
