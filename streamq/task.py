"""Task[P, R]: a handler plus its options, with a payload validator built from its signature."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, ParamSpec, TypeVar, get_type_hints

import anyio
import anyio.to_thread
import pydantic
from pydantic import BaseModel, ConfigDict, create_model

from .context import Context
from .errors import ConfigurationError, ValidationError
from .policy import Backoff

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class TaskOptions:
    queue: str
    priority: str
    max_retries: int
    timeout_s: float
    backoff: Backoff
    fail_on: tuple[type[BaseException], ...] = ()
    concurrency: int | None = None


@dataclass
class Task(Generic[P, R]):
    """A registered handler. Calling it runs the handler directly (handy in tests)."""

    name: str
    handler: Callable[P, R] | Callable[P, Awaitable[R]]
    options: TaskOptions
    payload_model: type[BaseModel] = field(init=False, repr=False)
    context_param: str | None = field(init=False, default=None)
    is_async: bool = field(init=False)

    def __post_init__(self) -> None:
        self.is_async = inspect.iscoroutinefunction(self.handler)
        self.payload_model, self.context_param = _payload_model(self.name, self.handler)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R | Awaitable[R]:
        return self.handler(*args, **kwargs)

    def validate(self, payload: Any) -> BaseModel:
        """Validate a payload (a mapping); raises streamq's ValidationError."""
        if not isinstance(payload, dict):
            raise ValidationError(
                f"payload of {self.name!r} must be a JSON object", field="payload"
            )
        try:
            return self.payload_model.model_validate(payload)
        except pydantic.ValidationError as exc:
            raise ValidationError(
                f"payload does not match task {self.name!r}: {summarize_errors(exc)}",
                field="payload",
                errors=exc.errors(include_url=False, include_context=False),
            ) from None

    def validate_json(self, payload: bytes) -> dict[str, Any]:
        """Keyword arguments for the handler from a stored JSON payload."""
        model = self.payload_model.model_validate_json(payload)
        kwargs = dict(model.__dict__)  # the declared fields, already validated
        kwargs.update(model.model_extra or {})
        return kwargs

    async def invoke(
        self, kwargs: dict[str, Any], ctx: Context | None,
        limiter: anyio.CapacityLimiter | None = None,
    ) -> Any:
        """Run the handler: coroutines on the loop, plain functions in a worker thread
        (abandoned, not killed, when the attempt times out or is cancelled). `ctx` is
        needed only by a handler that declares one."""
        if self.context_param is not None:
            kwargs[self.context_param] = ctx
        if self.is_async:
            return await self.handler(**kwargs)  # type: ignore[misc,call-arg]
        call = functools.partial(self.handler, **kwargs)
        return await anyio.to_thread.run_sync(call, abandon_on_cancel=True, limiter=limiter)

    @property
    def payload_schema(self) -> dict[str, Any]:
        return self.payload_model.model_json_schema()


def summarize_errors(exc: pydantic.ValidationError) -> str:
    """Validation errors on one line: `field: message; field: message`."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(x) for x in err["loc"]) or "payload"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def _payload_model(name: str, handler: Callable[..., Any]) -> tuple[type[BaseModel], str | None]:
    """A pydantic model of the handler's keyword parameters; `ctx: Context` is left out."""
    try:
        hints = get_type_hints(handler, localns={"Context": Context})
    except Exception as exc:  # unresolved forward references
        raise ConfigurationError(f"task {name!r}: cannot resolve annotations: {exc}") from exc
    fields: dict[str, Any] = {}
    context_param: str | None = None
    extra: Literal["allow", "forbid"] = "forbid"
    for param in inspect.signature(handler).parameters.values():
        annotation = hints.get(param.name, Any)
        if annotation is Context or (param.name == "ctx" and annotation is Any):
            context_param = param.name
            continue
        if param.kind is param.VAR_KEYWORD:
            extra = "allow"
            continue
        if param.kind in (param.VAR_POSITIONAL, param.POSITIONAL_ONLY):
            raise ConfigurationError(
                f"task {name!r}: parameter {param.name!r} cannot be passed by keyword"
            )
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (annotation, default)
    model = create_model(
        f"{name.replace('.', '_')}_payload",
        __config__=ConfigDict(extra=extra),
        **fields,
    )
    return model, context_param
