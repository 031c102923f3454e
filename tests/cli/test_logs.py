"""Log formatting: JSON with the job's bound fields, readable text, and a library that
never configures logging itself."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

from streamq.context import job_logger
from streamq.logs import configure_logging


def test_json_lines_carry_the_bound_job_fields() -> None:
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    job_logger("01abc", "email.send", "default", 2).info("sending to %s", "a@b.c")
    record = json.loads(out.getvalue())
    assert record["message"] == "sending to a@b.c" and record["level"] == "info"
    assert (record["job_id"], record["task"], record["queue"], record["attempt"]) == (
        "01abc", "email.send", "default", 2)


def test_text_lines_are_readable_and_configuring_twice_keeps_one_handler() -> None:
    out = io.StringIO()
    configure_logging("info", "text", stream=io.StringIO())
    configure_logging("info", "text", stream=out)
    job_logger("01abc", "email.send", "default", 1).warning("slow")
    [line] = out.getvalue().splitlines()
    assert "WARNING" in line and "streamq.job: slow job_id=01abc task=email.send" in line


def test_the_library_never_configures_logging() -> None:
    code = ("import logging, streamq, streamq.api; streamq.App(); "
            "print(len(logging.getLogger().handlers))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "0"
    assert logging.getLogger("streamq").handlers == []
