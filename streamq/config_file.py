"""The settings file: `streamq.toml`, or the `[tool.streamq]` table of `pyproject.toml`.

Keys are the settings' names (`redis_url = "redis://..."`, `concurrency = 50`). The file
is looked for in the working directory, or named by `STREAMQ_CONFIG`; the environment
(and `.env`) override it, and code overrides both. A key that is not a setting is an
error naming the closest one: a file is written on purpose, so a typo must not pass.
"""

from __future__ import annotations

import difflib
import functools
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from .errors import ConfigurationError

CONFIG_VARIABLE = "STREAMQ_CONFIG"
FILE_NAME = "streamq.toml"
PYPROJECT = "pyproject.toml"


@dataclass(frozen=True)
class ConfigFile:
    """One settings file as read: where it is and the values it sets."""

    path: Path
    in_pyproject: bool
    values: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.path.name} [tool.streamq]" if self.in_pyproject else self.path.name


def find_config_file(cwd: Path | None = None) -> ConfigFile | None:
    """`$STREAMQ_CONFIG`, else `streamq.toml`, else `pyproject.toml` with a
    `[tool.streamq]` table, in the working directory; None when there is none."""
    named = os.environ.get(CONFIG_VARIABLE)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigurationError(f"{CONFIG_VARIABLE} names {named}, which is not a file")
        return _read(path, path.name == PYPROJECT)
    base = cwd or Path.cwd()
    if (base / FILE_NAME).is_file():
        return _read(base / FILE_NAME, False)
    if (base / PYPROJECT).is_file():
        return _read(base / PYPROJECT, True)
    return None


def check_keys(config: ConfigFile, known: set[str]) -> None:
    """Refuse a key that is not a setting, naming the closest one."""
    for key in config.values:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigurationError(f"{config.label}: {key!r} is not a setting{hint}")


def _read(path: Path, in_pyproject: bool) -> ConfigFile | None:
    """The file's settings; None for a pyproject.toml without a [tool.streamq] table."""
    stat = path.stat()
    data = _parse(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if in_pyproject:
        table = data.get("tool", {}).get("streamq")
        if table is None:
            return None
        if not isinstance(table, dict):
            raise ConfigurationError(f"{path.name}: [tool.streamq] must be a table")
        data = table
    return ConfigFile(path, in_pyproject, dict(data))


@functools.lru_cache(maxsize=8)
def _parse(path: str, mtime_ns: int, size: int) -> dict[str, Any]:
    """The file's TOML (cached until the file changes: every App reads its settings)."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{Path(path).name} is not valid TOML: {exc}") from None


class ConfigFileSource(PydanticBaseSettingsSource):
    """A pydantic-settings source reading the settings file (below the environment)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self.file = find_config_file()
        if self.file is not None:
            check_keys(self.file, set(settings_cls.model_fields))

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        values = self.file.values if self.file else {}
        return values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.file.values) if self.file else {}
