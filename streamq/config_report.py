"""Where each setting comes from: `streamq config`, and the Redis a command talks to.

Settings are merged from code, the environment, `.env`, the settings file and the
defaults (in that order of precedence); when a command reads the wrong Redis, the first
question is which of those set `redis_url`. Secrets are never shown: tokens print as
`***`, and a Redis URL's password too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pydantic import SecretStr
from pydantic_settings import DotEnvSettingsSource, EnvSettingsSource

from .config_file import find_config_file
from .connection import DEFAULT_REDIS_URL
from .redact import MASK, redact_url
from .settings import Settings

PREFIX = "STREAMQ_"


@dataclass(frozen=True)
class SettingOrigin:
    """One setting's effective value (secrets masked) and where it came from."""

    name: str
    variable: str
    value: str
    source: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def sources() -> dict[str, str]:
    """Setting name -> where its value was given, for those not left at their default."""
    found: dict[str, str] = {}
    config = find_config_file()
    if config is not None:
        found.update(dict.fromkeys(config.values, config.label))
    found.update(dict.fromkeys(DotEnvSettingsSource(Settings)(), ".env"))
    found.update({n: f"environment {PREFIX}{n.upper()}" for n in EnvSettingsSource(Settings)()})
    return found


def explain(settings: Settings) -> list[SettingOrigin]:
    """Every setting of `settings`, with its source (`set in code` when it differs from
    what the environment, `.env` and the file would give)."""
    given = sources()
    outside = Settings()
    rows = []
    for name in Settings.model_fields:
        value = getattr(settings, name)
        source = given.get(name, "default")
        if value != getattr(outside, name):
            source = "set in code"
        rows.append(SettingOrigin(name, f"{PREFIX}{name.upper()}", shown(name, value), source))
    return rows


def shown(name: str, value: Any) -> str:
    """A value as printed: secrets masked, unset as `unset`, weights as `high=6,...`."""
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return MASK
    if name == "redis_url":
        return redact_url(str(value))
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value).lower() if isinstance(value, bool) else str(value)


def redis_origin(settings: Settings) -> str:
    """`redis://host:port/db (from ...)`: the Redis a client of `settings` talks to."""
    [row] = [r for r in explain(settings) if r.name == "redis_url"]
    if settings.redis_url is None:
        return f"{DEFAULT_REDIS_URL} (the default: {PREFIX}REDIS_URL is unset)"
    origin = "set in the app's code" if row.source == "set in code" else f"from {row.source}"
    return f"{row.value} ({origin})"
