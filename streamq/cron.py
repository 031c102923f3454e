"""Recurring jobs declared in code: the schedule arithmetic, checked at declaration.

Expressions are standard cron (5 fields: minute hour day month weekday), or 6 fields with
seconds first (`*/10 * * * * *`), or an alias such as `@hourly`. `H` picks a stable value
per cron name. They are evaluated with croniter (maintained by the pallets-eco community)
in the cron's time zone, so `0 9 * * *` in `Europe/Paris` follows daylight saving time.

Exactly once across nodes: every node runs a cron actor, and a tick is taken by the
`cron` script, which records the last tick per cron in `streamq:{q}:cron` and writes the
job in the same step. A tick at or before the recorded one is refused, so however many
nodes race, one job is written per tick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigurationError

if TYPE_CHECKING:
    from croniter import croniter

Misfire = Literal["skip", "run_once"]
MISFIRE_POLICIES: tuple[str, ...] = ("skip", "run_once")
MAX_CATCH_UP = 1000
"""Ticks fired in one step at most (a node that was late by less than the grace period)."""


@dataclass(frozen=True)
class CronJob:
    """One recurring job: fire a job of `type` with `payload` at every tick of `expr`.

    `misfire` decides what happens to ticks that no node fired in time (all nodes were
    down longer than the grace period): `skip` drops them, `run_once` fires one job for
    all of them when a node comes back. Ticks late by less than the grace period (a busy
    node) are all fired.
    """

    name: str
    expr: str
    type: str
    payload: dict[str, Any]
    timezone: str
    misfire: Misfire
    queue: str
    priority: str | None = None
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", _zone(self.timezone))
        check_expression(self.expr, self.name)
        if self.misfire not in MISFIRE_POLICIES:
            raise ConfigurationError(
                f"cron {self.name!r}: misfire must be one of {', '.join(MISFIRE_POLICIES)}, "
                f"not {self.misfire!r}"
            )

    def _iter(self, at_ms: int) -> croniter:
        from croniter import croniter  # only an app that declares a cron pays its import

        start = datetime.fromtimestamp(at_ms / 1000, tz=self.zone)
        return croniter(self.expr, start, second_at_beginning=True, hash_id=self.name)

    def next_after(self, ms: int) -> int:
        """The first tick strictly after `ms` (unix milliseconds)."""
        return _ms(self._iter(ms).get_next(float))

    def latest_until(self, ms: int) -> int:
        """The last tick at or before `ms`."""
        return _ms(self._iter(ms + 1).get_prev(float))

    def ticks(self, after_ms: int, until_ms: int, limit: int = MAX_CATCH_UP) -> list[int]:
        """Ticks in (after_ms, until_ms], oldest first, at most `limit`."""
        it = self._iter(after_ms)
        out: list[int] = []
        while len(out) < limit:
            tick = _ms(it.get_next(float))
            if tick > until_ms:
                break
            out.append(tick)
        return out


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def check_expression(expr: str, name: str = "") -> None:
    """Refuse an expression croniter cannot read, or one that never fires."""
    what = f"cron {name!r}: " if name else ""
    if not isinstance(expr, str) or not expr.strip():
        raise ConfigurationError(f"{what}cron expression must be a non-empty string")
    fields = expr.split()
    if not expr.startswith("@") and len(fields) not in (5, 6):
        raise ConfigurationError(
            f"{what}bad cron expression {expr!r}: expected 5 fields (minute hour day month "
            f"weekday) or 6 with seconds first, got {len(fields)}"
        )
    from croniter import CroniterError, croniter

    try:
        valid = croniter.is_valid(expr, hash_id=name or "cron", second_at_beginning=True,
                                  strict=True)
        if valid:
            start = datetime.now(tz=UTC)
            croniter(expr, start, second_at_beginning=True, hash_id=name or "cron").get_next()
    except (CroniterError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"{what}bad cron expression {expr!r}: {exc}") from None
    if not valid:
        raise ConfigurationError(f"{what}bad cron expression {expr!r}")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigurationError(f"unknown time zone {name!r}") from None


def parse_misfire(value: str) -> Misfire:
    """`skip`, `run_once` (also written `run once` or `run-once`)."""
    text = str(value).strip().lower().replace(" ", "_").replace("-", "_")
    if text == "skip":
        return "skip"
    if text == "run_once":
        return "run_once"
    raise ConfigurationError(
        f"misfire must be one of {', '.join(MISFIRE_POLICIES)}, not {value!r}"
    )
