"""What `streamq dev` prints at start: where everything is, and what to paste next.

A second terminal needs the private Redis's address (the CLI would otherwise read
another Redis and show zeros), and a first job should be one paste away.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from .app import App
from .redact import redact_url
from .task import Task


def banner(app: App, redis_url: str, private: bool, api_url: str, console: bool) -> list[str]:
    """The lines printed once the worker and the API are up."""
    source = "private, stopped on exit" if private else "from the settings"
    lines = [
        f"Redis    {redact_url(redis_url)} ({source})",
        f"API      {api_url}",
    ]
    if console:
        lines.append(f"console  {api_url}/ui/")
    if private:
        lines += ["", "Point the CLI at this Redis in another terminal:",
                  f"  export STREAMQ_REDIS_URL={shlex.quote(redis_url)}",
                  "  streamq inspect"]
    example = example_job(app)
    if example is not None:
        body = json.dumps(example)
        lines += ["", "Submit a job:",
                  f"  curl -X POST {api_url}/jobs -H 'Content-Type: application/json' "
                  f"-d {shlex.quote(body)}"]
    return lines


def example_job(app: App) -> dict[str, Any] | None:
    """A job body for the first task (by name) whose payload can be made up from its
    schema: numbered integers, `text` strings, ..."""
    for name, task in sorted(app.tasks.items()):
        payload = example_payload(task)
        if payload is not None:
            return {"type": name, "payload": payload}
    return None


_EXAMPLES: dict[str, Any] = {"string": "text", "boolean": True, "array": [], "object": {}}


def example_payload(task: Task[Any, Any]) -> dict[str, Any] | None:
    """Values for the task's required fields, or None when one has no simple JSON type."""
    schema = task.payload_schema
    payload: dict[str, Any] = {}
    for n, field in enumerate(schema.get("required", []), start=1):
        kind = schema.get("properties", {}).get(field, {}).get("type")
        if kind in ("integer", "number"):
            payload[field] = n
        elif kind in _EXAMPLES:
            payload[field] = _EXAMPLES[kind]
        else:
            return None
    return payload
