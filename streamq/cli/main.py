"""The `streamq` group: settings and logging for every command, and the commands."""

from __future__ import annotations

import click

from ..logs import configure_logging
from .common import VERBOSE, option
from .config import config, read_settings_or_exit, warn_unknown_variables
from .dlq import dlq
from .history import history
from .jobs import enqueue, job, jobs
from .queues import check, inspect, queue
from .serve import api, dev, worker


@click.group(context_settings={"auto_envvar_prefix": "STREAMQ", "show_default": True})
@option("--log-level", default=None, envvar="STREAMQ_LOG_LEVEL",
        type=click.Choice(["debug", "info", "warning", "error"]),
        help="Least severe level logged (default: settings, info).")
@option("--log-format", default=None, envvar="STREAMQ_LOG_FORMAT",
        type=click.Choice(["auto", "json", "text"]),
        help="text for a terminal, json in containers (default: settings, text).")
@option("-v", "--verbose", is_flag=True, envvar="STREAMQ_VERBOSE",
        help="Say which Redis a command talks to, and where that was set.")
def main(log_level: str | None, log_format: str | None, verbose: bool) -> None:
    """streamq: background jobs on Redis Streams.

    Settings come from STREAMQ_* variables, `.env`, and streamq.toml (or [tool.streamq] in
    pyproject.toml), in that order of precedence: `streamq config` shows them."""
    settings = read_settings_or_exit()
    configure_logging(log_level or settings.log_level, log_format or settings.log_format)
    warn_unknown_variables(main)
    click.get_current_context().meta[VERBOSE] = verbose


for _command in [worker, api, dev, enqueue, job, jobs, dlq, queue, inspect, check, config,
                 history]:
    main.add_command(_command)
