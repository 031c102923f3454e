"""The command line's view of the settings: read them once at start (a bad value is one
line naming where it was set), warn about misspelled variables, and `streamq config`."""

from __future__ import annotations

import logging
import os
import sys

import click
import orjson
import pydantic

from ..config_file import FILE_NAME, PYPROJECT, find_config_file
from ..config_report import explain, sources
from ..env_check import option_variables, setting_variables, unknown_variables
from ..errors import ConfigurationError
from ..settings import Settings

log = logging.getLogger("streamq")

EXIT_USAGE = 2


def read_settings_or_exit() -> Settings:
    """The settings; a bad value exits 2 with one line per problem, naming the variable
    or the file that set it."""
    try:
        return Settings()
    except ConfigurationError as exc:
        click.echo(f"error: {exc}", err=True)
    except pydantic.ValidationError as exc:
        origins = sources()
        for err in exc.errors(include_url=False):
            click.echo(f"error: {_where(err['loc'], origins)}: {err['msg']}", err=True)
    sys.exit(EXIT_USAGE)


def _where(loc: tuple[int | str, ...], origins: dict[str, str]) -> str:
    if not loc:
        return "settings"
    name = str(loc[0])
    variable = f"STREAMQ_{name.upper()}"
    origin = origins.get(name, "")
    if origin.startswith("environment") or not origin:
        return variable
    if origin == ".env":
        return f"{variable} (in .env)"
    return f"{name} (in {origin})"


def warn_unknown_variables(group: click.Group) -> None:
    """One warning per `STREAMQ_*` variable that no setting or option reads."""
    known = setting_variables() | option_variables(group)
    for name, close in unknown_variables(os.environ, known):
        hint = f"; did you mean {close}?" if close else ""
        log.warning("unknown variable %s is ignored%s", name, hint)


@click.command("config")
@click.option("--json", "as_json", is_flag=True, envvar="STREAMQ_JSON", show_envvar=True,
              help="Print JSON for scripts.")
def config(as_json: bool) -> None:
    """Print the effective settings and where each came from (environment, .env, the
    settings file, default); secrets are masked."""
    rows = explain(Settings())
    found = find_config_file()
    where = str(found.path) if found else (
        f"none ({FILE_NAME} or {PYPROJECT} [tool.streamq] in {os.getcwd()}, "
        "or STREAMQ_CONFIG)")
    if as_json:
        click.echo(orjson.dumps({"file": str(found.path) if found else None,
                                 "settings": [r.as_dict() for r in rows]},
                                option=orjson.OPT_INDENT_2).decode())
        return
    from .render import table

    click.echo(f"settings file: {where}")
    click.echo(table(["SETTING", "VALUE", "SOURCE"], [[r.name, r.value, r.source]
                                                      for r in rows]))
