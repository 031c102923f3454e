"""Misspelled `STREAMQ_*` variables: warned about, with the closest valid name.

pydantic-settings and click ignore variables they do not know, so a typo
(`STREAMQ_CONCURENCY=50`) silently left the default in place. The `streamq` command
knows every variable it reads (the settings and its options'), and warns at start.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping

import click

from .config_file import CONFIG_VARIABLE
from .settings import Settings

PREFIX = "STREAMQ_"


def setting_variables() -> set[str]:
    return {PREFIX + name.upper() for name in Settings.model_fields} | {CONFIG_VARIABLE}


def option_variables(group: click.Group) -> set[str]:
    """The variable of every option of every command (explicit, or click's automatic
    `STREAMQ_<COMMAND>_<OPTION>`)."""
    root = click.Context(group, info_name="streamq", auto_envvar_prefix=PREFIX.rstrip("_"))
    names: set[str] = set()
    for command, ctx in _walk(group, root):
        for param in command.get_params(ctx):
            if not isinstance(param, click.Option):
                continue
            if isinstance(param.envvar, str):
                names.add(param.envvar)
            elif param.envvar:
                names.update(param.envvar)
            elif ctx.auto_envvar_prefix and param.name:
                names.add(f"{ctx.auto_envvar_prefix}_{param.name.upper()}")
    return names


def _walk(command: click.Command, ctx: click.Context) -> Iterator[tuple[click.Command,
                                                                       click.Context]]:
    yield command, ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                yield from _walk(sub, click.Context(sub, info_name=name, parent=ctx))


def unknown_variables(
    environ: Mapping[str, str], known: Iterable[str]
) -> list[tuple[str, str | None]]:
    """(name, closest known name or None) for each `STREAMQ_*` variable not in `known`."""
    valid = set(known)
    return [
        (name, next(iter(difflib.get_close_matches(name, valid, n=1, cutoff=0.8)), None))
        for name in sorted(environ)
        if name.startswith(PREFIX) and name not in valid
    ]
