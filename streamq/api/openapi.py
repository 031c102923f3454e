"""/openapi.json, generated from the route table and the pydantic models.

A job body is a union discriminated on `type`: one variant per registered task, whose
`payload` is that task's payload schema (built from the handler's signature).
"""

from __future__ import annotations

import re
from types import GenericAlias
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Field, TypeAdapter, create_model

from ..app import App
from .compat import CompatJobIn
from .models import BatchIn, JobIn
from .problems import PROBLEM_CONTENT_TYPE, Problem
from .routes import Route
from .table import ROUTES

REF = "#/components/schemas/{model}"
STATUS_TEXT = {
    200: "OK", 202: "Accepted", 204: "No content", 400: "Malformed JSON",
    401: "Missing or invalid token", 403: "Token does not grant this route",
    404: "Not found", 405: "Method not allowed", 409: "Conflict", 413: "Too large",
    415: "Unsupported media type", 422: "Validation failed", 429: "Queue over its backlog",
    500: "Internal error", 503: "Redis unavailable or slow",
}


class Schemas:
    """Collects component schemas from every model and type it is asked about."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def of(self, tp: Any, mode: Literal["validation", "serialization"] = "serialization") -> Any:
        schema = TypeAdapter(tp).json_schema(ref_template=REF, mode=mode)
        self.components.update(schema.pop("$defs", {}))
        title = schema.get("title")
        if isinstance(tp, type) and issubclass(tp, BaseModel) and title:
            self.components[title] = schema
            return {"$ref": REF.format(model=title)}
        return schema


def job_body_type(app: App) -> Any:
    """The job body: a union of one variant per task (JobIn when the app has none)."""
    variants: list[type[BaseModel]] = []
    for name, task in sorted(app.tasks.items()):
        required = any(f.is_required() for f in task.payload_model.model_fields.values())
        payload: Any = (task.payload_model, ...) if required else (
            task.payload_model | None, None)
        literal: Any = Literal[name]
        variants.append(create_model(
            f"Job_{_safe(name)}", __base__=JobIn,
            type=(literal, Field(description="The task name.")), payload=payload,
        ))
    if not variants:
        return JobIn
    if len(variants) == 1:
        return variants[0]
    return Annotated[Union[tuple(variants)], Field(discriminator="type")]  # noqa: UP007


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def build_openapi(app: App) -> dict[str, Any]:
    schemas = Schemas()
    job_body = job_body_type(app)
    jobs: Any = GenericAlias(list, (job_body,))
    batch = create_model("Batch", __base__=BatchIn, jobs=(
        jobs, Field(min_length=1, max_length=app.settings.api_max_batch_jobs)))
    bodies = {"job": schemas.of(job_body, "validation"), "batch": schemas.of(batch, "validation"),
              "compat": schemas.of(CompatJobIn, "validation")}
    problem = schemas.of(Problem)
    paths: dict[str, Any] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(
            route, schemas, bodies, problem)
    return {
        "openapi": "3.1.0",
        "info": {"title": "streamq", "version": "1",
                 "description": "Background jobs on Redis Streams. Errors are RFC 9457 "
                                "problem details (application/problem+json)."},
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(
    route: Route, schemas: Schemas, bodies: dict[str, Any], problem: Any
) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": route.name, "summary": route.summary,
                          "responses": _responses(route, schemas, problem)}
    params = [_path_param(p) for p in re.findall(r"{(\w+)}", route.path)]
    if route.query is not None:
        params += _query_params(route.query)
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": bodies[route.body]}}}
        op["parameters"] = [*params, {
            "name": "Idempotency-Key", "in": "header", "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": 256}}]
    if route.scope.value != "open":
        op["security"] = [{}, {"bearer": []}]
    return op


def _responses(route: Route, schemas: Schemas, problem: Any) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": STATUS_TEXT.get(route.ok, "OK")}
    if route.response is not None:
        ok["content"] = {"application/json": {"schema": schemas.of(route.response)}}
    elif route.path == "/metrics":
        ok["content"] = {"text/plain": {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(route.ok): ok}
    if route.body is not None:  # an idempotent replay answers 200
        responses["200"] = {"description": "Idempotent replay: the original job(s)",
                            "content": ok["content"]}
    statuses = set(route.errors) | {405, 500}
    if route.scope.value != "open":
        statuses |= {401, 403}
    for status in sorted(statuses):
        responses[str(status)] = {
            "description": STATUS_TEXT.get(status, "Error"),
            "content": {PROBLEM_CONTENT_TYPE: {"schema": problem}},
        }
    for status in (429, 503):
        if status in statuses:
            responses[str(status)]["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return responses


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": 200,
                       "pattern": "^[A-Za-z0-9._:-]+$"}}


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = TypeAdapter(model).json_schema()
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required,
         "schema": _nullable_removed(prop)}
        for name, prop in schema.get("properties", {}).items()
    ]


def _nullable_removed(prop: dict[str, Any]) -> dict[str, Any]:
    """Query values are strings or absent, never null: drop the null branch."""
    branches = [b for b in prop.get("anyOf", []) if b.get("type") != "null"]
    clean = {k: v for k, v in prop.items() if k not in ("anyOf", "default", "title")}
    if len(branches) == 1:
        clean.update(branches[0])
    elif branches:
        clean["anyOf"] = branches
    return clean
