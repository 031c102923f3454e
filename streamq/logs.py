"""Log formatting for the `streamq` command's processes.

The library only logs (to `streamq.*` loggers, with `job_id`, `task`, `queue` and
`attempt` bound on a job's records); configuring handlers is left to the program. The CLI
entry points call `configure_logging`: one JSON object per line in containers, a readable
line on a terminal.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName",
}


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    """Fields bound on the record (`extra=`, LoggerAdapter): job id, task, queue, attempt."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, bound fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_extra(record),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


TEXT_OMITTED = frozenset(
    {"error", "error_type", "reason", "max_attempts", "retry_in_s", "retry_at", "traceback"}
)
"""Fields a text line leaves out because its message already says them (JSON keeps all);
a `traceback` field is written below the line, as a logged exception's would be."""


class TextFormatter(logging.Formatter):
    """`time level logger: message key=value ...` for a person at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = _extra(record)
        below = str(fields.get("traceback") or "").rstrip("\n")
        bound = " ".join(f"{k}={v}" for k, v in fields.items() if k not in TEXT_OMITTED)
        head, sep, tail = line.partition("\n")  # keep a traceback below the fields
        head = f"{head} {bound}" if bound else head
        text = f"{head}{sep}{tail}"
        return f"{text}\n{below}" if below else text


def configure_logging(level: str, fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Send every record at `level` or above to `stream` (stderr): fmt json, text, or auto
    (text when the stream is a terminal)."""
    out = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    handler = _StreamqHandler(out)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _StreamqHandler)]
    root.addHandler(handler)  # replaces only its own handler: calling twice is harmless
    root.setLevel(level.upper())


class _StreamqHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `configure_logging` installs (and replaces on a second call)."""
