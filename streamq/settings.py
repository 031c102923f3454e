"""Every setting, documented once with its unit and default, read from `STREAMQ_*`
variables, `.env` and the settings file (`streamq.toml` or `[tool.streamq]`)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from .keys import PRIORITIES, QUEUE_NAME
from .shards import MAX_SHARDS, Layout
from .urls import check_redis_url


class Settings(BaseSettings):
    """Runtime settings. A bad value fails at start, before Redis is touched."""

    model_config = SettingsConfigDict(
        env_prefix="STREAMQ_", env_file=".env", extra="ignore", frozen=True,
        hide_input_in_errors=True,
    )

    redis_url: str | None = Field(
        None, description="Redis URL: redis://, rediss://, unix://, redis+cluster:// (seed "
        "nodes) or redis+sentinel:// (sentinels and service). Unset: `streamq dev` starts a "
        "private local Redis."
    )
    prefix: str = Field("streamq", min_length=1, description="Prefix of every Redis key.")
    queue: str = Field("default", min_length=1, description="Queue of tasks that name none.")
    concurrency: int = Field(100, ge=1, le=10_000, description="Jobs in flight per node.")
    shards: int = Field(
        1, ge=1, le=MAX_SHARDS, description="Shards per queue: each a full set of the queue's "
        "keys under its own hash tag, so one queue spreads over a cluster's nodes. Every "
        "producer and worker of a queue must use the same number."
    )
    queue_shards: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=dict, description="Shards of particular queues, overriding `shards` "
        "(`bulk=4,mail=2` or a JSON object)."
    )
    visibility_timeout_ms: int = Field(
        30_000, ge=1_000, description="Idle time after which XAUTOCLAIM takes a job back."
    )
    reclaim_interval_ms: int = Field(
        5_000, ge=100, description="How often the reclaimer looks for abandoned entries."
    )
    max_deliveries: int = Field(
        3, ge=1, description="Deliveries lost to crashed workers before a job is dead-lettered."
    )
    max_retries: int = Field(3, ge=0, description="Default retries after a failed attempt.")
    job_timeout_s: float = Field(300.0, gt=0, description="Default time limit of one attempt.")
    retry_base_s: float = Field(1.0, gt=0, description="Backoff base: attempt n waits ~base*2^n.")
    retry_cap_s: float = Field(600.0, gt=0, description="Upper bound of one backoff delay.")
    result_ttl_s: int = Field(86_400, ge=1, description="Retention of succeeded job records.")
    failed_ttl_s: int = Field(
        7 * 86_400, ge=1, description="Retention of failed and cancelled job records."
    )
    idempotency_ttl_s: int = Field(86_400, ge=1, description="Lifetime of an idempotency key.")
    dead_max_entries: int = Field(
        100_000, ge=1, description="Dead-letter entries kept per queue before the oldest go."
    )
    events_max_entries: int = Field(
        10_000, ge=0,
        description="Entries the capped events stream keeps, each one state change or up "
        "to ten of one batch (0 disables events).",
    )
    completion_batch_size: int = Field(
        200, ge=1, description="Outcomes written in one round trip at most."
    )
    completion_flush_ms: float = Field(
        2.0, ge=0, description="Longest wait before a partial batch of outcomes is written."
    )
    fetch_block_ms: int = Field(
        1_000, ge=10, description="Longest blocking XREADGROUP when all streams are empty."
    )
    grace_period_s: float = Field(
        25.0, ge=0, description="Time in-flight jobs get to finish after SIGTERM."
    )
    priority_weights: dict[str, int] | None = Field(
        None, description="Weighted fetching, e.g. high=6,normal=3,low=1; unset is strict."
    )
    max_payload_bytes: int = Field(
        262_144, ge=64, description="Largest serialized payload accepted at enqueue."
    )
    max_result_bytes: int = Field(
        1_048_576, ge=64,
        description="Largest serialized result kept; a larger one fails its attempt "
        "(ResultTooLarge, no retry).",
    )
    max_backlog: int = Field(
        1_000_000, ge=1, description="Queued jobs per queue above which enqueue is refused."
    )
    redis_timeout_s: float = Field(
        5.0, gt=0, description="Socket timeout of ordinary Redis commands."
    )
    node_ttl_ms: int = Field(
        60_000, ge=1_000, description="A node whose heartbeat is older is considered gone."
    )
    cron_misfire_grace_ms: int = Field(
        5_000, ge=0,
        description="A cron tick no node fired within this time of its due time was missed "
        "(no node ran); the cron's misfire policy (skip or run_once) then applies.",
    )
    # -- services: API, metrics and logs ---------------------------------------------------------
    api_host: str = Field("127.0.0.1", description="Address `streamq api` listens on.")
    api_port: int = Field(8000, ge=1, le=65_535, description="TCP port of `streamq api`.")
    api_token: SecretStr | None = Field(
        None, description="Bearer token for every API route but /livez, /readyz and /metrics."
    )
    api_submit_token: SecretStr | None = Field(
        None, description="Bearer token for submitting jobs and reading one job only."
    )
    api_admin_token: SecretStr | None = Field(
        None, description="Bearer token for every API route (listing, cancel, DLQ, queues)."
    )
    api_read_token: SecretStr | None = Field(
        None, description="Token for the console's read-only view (/ui/); it grants no "
        "action and no API route."
    )
    api_deadline_s: float = Field(
        2.0, gt=0, le=60, description="Longest wait for Redis in one API request; then 503."
    )
    api_max_body_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="Largest request body the API reads."
    )
    api_max_batch_jobs: int = Field(
        500, ge=1, le=10_000, description="Most jobs in one POST /jobs/batch."
    )
    api_max_json_depth: int = Field(
        32, ge=2, le=256, description="Deepest nesting of arrays and objects in a request."
    )
    queue_metrics: bool = Field(
        True, description="Report the queue gauges on /metrics (one collector: the API)."
    )
    metrics_host: str = Field("127.0.0.1", description="Address of a worker's /metrics.")
    metrics_port: int | None = Field(
        None, ge=1, le=65_535, description="Port of a worker's /metrics (unset: none)."
    )
    liveness_file: str | None = Field(
        None, description="File a worker or API touches every liveness_interval_s while "
        "its event loop (and a worker's heartbeat) runs; unset: none. See liveness.py."
    )
    liveness_interval_s: float = Field(
        5.0, gt=0, le=300, description="How often the liveness file is touched."
    )
    otel: bool = Field(
        False, description="OpenTelemetry spans of every job: a producer span at enqueue, a "
        "consumer span per attempt (needs `streamq[otel]`; spans go to the global "
        "TracerProvider)."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Least severe log level written."
    )
    log_format: Literal["auto", "json", "text"] = Field(
        "text", description="text (a readable line), json (one object a line: containers "
        "set it), or auto (text on a terminal, json otherwise)."
    )
    # -- job history archive (PostgreSQL, extra `streamq[postgres]`) -------------------------
    history_url: str | None = Field(
        None, description="PostgreSQL URL of the job history archive (postgresql://...); "
        "unset: no archive.",
    )
    history_retention_days: int = Field(
        30, ge=1, le=36_500, description="Days archived jobs are kept (whole daily partitions "
        "are dropped).",
    )
    history_batch_size: int = Field(
        500, ge=1, le=10_000, description="Terminal jobs written to the archive in one "
        "transaction at most.",
    )
    history_max_backlog: int = Field(
        1_000_000, ge=1_000, description="Entries a queue's archive stream holds at most while "
        "the archive is behind (PostgreSQL down); past it the oldest are dropped unarchived.",
    )

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        return None if value is None else check_redis_url(value)

    @field_validator("queue")
    @classmethod
    def _queue(cls, value: str) -> str:
        if not QUEUE_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid queue name (letters, digits, '_', "
                             "'.', ':', '-'; 1 to 200)")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Code, then the environment, then `.env`, then the settings file (see
        `streamq.config_file`), then the defaults."""
        from .config_file import ConfigFileSource

        return (init_settings, env_settings, dotenv_settings, ConfigFileSource(settings_cls),
                file_secret_settings)

    @field_validator("queue_shards", mode="before")
    @classmethod
    def _parse_queue_shards(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_queue_shards(value)
        return value

    @field_validator("queue_shards")
    @classmethod
    def _check_queue_shards(cls, value: dict[str, int]) -> dict[str, int]:
        for queue, count in value.items():
            if not QUEUE_NAME.fullmatch(queue):
                raise ValueError(f"{queue!r} is not a valid queue name")
            if not 1 <= count <= MAX_SHARDS:
                raise ValueError(f"shards of {queue!r} must be 1 to {MAX_SHARDS}")
        return value

    @field_validator("priority_weights", mode="before")
    @classmethod
    def _parse_weights(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_priority_weights(value)
        return value

    @field_validator("priority_weights")
    @classmethod
    def _check_weights(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is None:
            return None
        unknown = set(value) - set(PRIORITIES)
        if unknown:
            raise ValueError(f"unknown priorities {sorted(unknown)}; use {list(PRIORITIES)}")
        if any(w < 1 for w in value.values()):
            raise ValueError("weights must be positive integers")
        return {p: value.get(p, 1) for p in PRIORITIES}

    @field_validator("history_url")
    @classmethod
    def _check_history_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _check_timings(self) -> Settings:
        if self.fetch_block_ms >= self.redis_timeout_s * 1000:
            raise ValueError(
                "fetch_block_ms must be shorter than redis_timeout_s, or every blocking "
                "read would end in a socket timeout"
            )
        return self

    @property
    def layout(self) -> Layout:
        """The shard count of every queue (a fresh round robin each time it is read)."""
        return Layout(self.shards, self.queue_shards)

    @property
    def heartbeat_interval_s(self) -> float:
        """Lease renewal period: a third of the visibility timeout, so two may fail."""
        return self.visibility_timeout_ms / 3000


def parse_queue_shards(text: str) -> dict[str, Any]:
    """Parse `bulk=4,mail=2` (queue=shards) or a JSON object."""
    if text.lstrip().startswith("{"):
        parsed = json.loads(text)
        if not isinstance(parsed, dict):
            raise ValueError("expected a JSON object of queue: shards")
        return parsed
    return _int_pairs(text, "shard count", "queue")


def parse_priority_weights(text: str) -> dict[str, int]:
    """Parse `high=6,normal=3,low=1` (`medium` is an alias of `normal`)."""
    weights: dict[str, int] = {}
    for name, weight in _int_pairs(text, "weight", "name").items():
        name = name.lower()
        weights["normal" if name == "medium" else name] = weight
    return weights


def _int_pairs(text: str, what: str, key: str) -> dict[str, int]:
    """Parse `a=1,b=2` into {name: integer}; a bad pair names `what` it was meant to be."""
    pairs: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, number = part.partition("=")
        if not sep or not number.strip().isdigit():
            raise ValueError(f"bad {what} {part!r}; expected {key}=integer")
        pairs[name.strip()] = int(number)
    return pairs
