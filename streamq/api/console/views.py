"""The console's handlers: thin, each one reads through `data` or acts through App and
renders a template. Every action is a POST that answers with a redirect (so it works
without JavaScript), guarded by role and CSRF in the middleware."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from ...errors import InvalidTransition, JobNotFound, ValidationError
from ...job import JobStatus
from ...store.console import ConsoleStore
from . import data, explorer, fleet, live
from .render import page, redirect
from .security import (
    CSRF_FIELD,
    SESSION_COOKIE,
    Role,
    csrf_ok,
    role_of_token,
)
from .state import BULK, base_path, console_app_of

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DEFAULT_LIMIT, MAX_LIMIT = 50, 1000


def _form_value(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


# -- reading -----------------------------------------------------------------------------------


async def overview(request: web.Request) -> web.StreamResponse:
    app = console_app_of(request)
    return await page(request, "overview.html", queues=await data.overview(app),
                      live_url="live")


async def jobs(request: web.Request) -> web.StreamResponse:
    app = console_app_of(request)
    f = explorer.JobFilters.parse(request.query)
    common: dict[str, Any] = {"filters": f, "types": _types(app), "queues_all": app.queues,
                              "history_enabled": app.history_archive is not None}
    if f.id is not None:
        try:
            await app.get_job(f.id)
        except JobNotFound:
            return await page(request, "jobs.html", result=None, limit=DEFAULT_LIMIT,
                              missing=f.id, status=404, **common)
        return redirect(request, f"jobs/{f.id}")
    limit = _limit(request.query.get("limit"))
    cursor = request.query.get("cursor") or None
    result = await explorer.explore(app, f, limit, cursor)
    first = [*f.query(), ("limit", str(limit))]
    next_url = None
    if result.next_cursor is not None:
        next_url = "jobs?" + urlencode([*first, ("cursor", result.next_cursor)])
    return await page(request, "jobs.html", result=result, limit=limit, next_url=next_url,
                      first_url="jobs?" + urlencode(first), paged=cursor is not None,
                      **common)


def _types(app: Any) -> list[str]:
    return sorted(app.tasks)


def _limit(text: str | None) -> int:
    if not text:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise ValidationError(f"limit must be 1 to {MAX_LIMIT}", field="limit")
    return int(text)


async def job(request: web.Request) -> web.StreamResponse:
    app = console_app_of(request)
    detail = await data.job_detail(app, request.match_info["id"])
    payload = orjson.dumps(detail.job.payload, option=orjson.OPT_INDENT_2).decode()
    return await page(
        request, "job.html", d=detail, payload_json=payload,
        result_json=orjson.dumps(detail.job.result, option=orjson.OPT_INDENT_2).decode(),
        schema_json=orjson.dumps(detail.payload_schema, option=orjson.OPT_INDENT_2).decode()
        if detail.payload_schema else "",
        fingerprint=data.fingerprint_of(detail.job),
        live_url="live?" + urlencode({"job": detail.job.id}),
        edit_error=request.query.get("edit_error"),
    )


async def dead(request: web.Request) -> web.StreamResponse:
    app = console_app_of(request)
    f = data.DeadFilter.parse(request.query)
    groups = await data.dead_groups(app, f)
    letters = None
    if f.fingerprint is not None:
        letters = (await app.dlq_list(queue=f.queue, type=f.type, fingerprint=f.fingerprint,
                                      limit=100)).entries
    return await page(request, "dead.html", groups=groups, filter=f, letters=letters,
                      types=_types(app), queues_all=app.queues, live_url="live")


async def dead_confirm(request: web.Request) -> web.StreamResponse:
    app = console_app_of(request)
    f = data.DeadFilter.parse(request.query)
    action = request.query.get("action", "requeue")
    if action not in ("requeue", "delete"):
        raise ValidationError("action must be requeue or delete", field="action")
    count = await data.dead_count(app, f)
    return await page(request, "confirm.html", filter=f, action=action, count=count)


async def bulk_status(request: web.Request) -> web.StreamResponse:
    action = request.app[BULK].get(request.match_info["id"])
    if action is None:
        raise JobNotFound("no such bulk action in this API process (it may have restarted)")
    return await page(request, "bulk.html", action=action)


async def nodes(request: web.Request) -> web.StreamResponse:
    app = console_app_of(request)
    return await page(request, "nodes.html", nodes=await fleet.nodes(app), live_url="live")


async def cron(request: web.Request) -> web.StreamResponse:
    app = console_app_of(request)
    return await page(request, "cron.html", crons=await fleet.crons(app))


async def events(request: web.Request) -> web.StreamResponse:
    try:
        return await live.stream(request, console_app_of(request))
    except (ConnectionResetError, ConnectionError):
        return web.Response(status=204)


# -- signing in --------------------------------------------------------------------------------


async def login_form(request: web.Request) -> web.StreamResponse:
    return await page(request, "login.html", error=None, next=request.query.get("next", ""))


async def login(request: web.Request) -> web.StreamResponse:
    app = console_app_of(request)
    form = await request.post()
    if not csrf_ok(request, _form_value(form, CSRF_FIELD)):
        return await page(request, "login.html", error="The form expired; try again.",
                          next="", status=403)
    token = _form_value(form, "token").strip()
    if role_of_token(app.settings, token) is Role.NONE:
        return await page(request, "login.html", error="That token is not valid.", next="",
                          status=401)
    target = _form_value(form, "next")
    response = redirect(request, target if _safe_next(target) else "")
    response.set_cookie(SESSION_COOKIE, token, path=base_path(request), httponly=True,
                        samesite="Strict", secure=request.secure)
    return response


def _safe_next(target: str) -> bool:
    """A path inside the console only (no scheme, no host, no way out)."""
    return bool(target) and not target.startswith(("/", "\\")) and ":" not in target and (
        ".." not in target)


async def logout(request: web.Request) -> web.StreamResponse:
    response = redirect(request, "login")
    response.del_cookie(SESSION_COOKIE, path=base_path(request))
    return response


# -- acting ------------------------------------------------------------------------------------


async def job_cancel(request: web.Request) -> web.StreamResponse:
    app = console_app_of(request)
    job_id = request.match_info["id"]
    await app.cancel(job_id)
    return redirect(request, f"jobs/{job_id}")


async def job_retry(request: web.Request) -> web.StreamResponse:
    """Failed or cancelled: run again with a fresh budget. Delayed or waiting for a retry:
    make it due now."""
    app = console_app_of(request)
    job_id = request.match_info["id"]
    current = await app.get_job(job_id)
    if current.status in (JobStatus.SCHEDULED, JobStatus.RETRYING):
        if not await ConsoleStore(app.store).run_now(current):
            raise InvalidTransition(f"job {job_id} is no longer waiting", job_id=job_id)
    else:
        await app.retry(job_id)
    return redirect(request, f"jobs/{job_id}")


async def job_copy(request: web.Request) -> web.StreamResponse:
    """Enqueue a new job of the same type with an edited payload, validated against the
    task's schema (a refusal comes back to the form with the reason)."""
    app = console_app_of(request)
    original = await app.get_job(request.match_info["id"])
    form = await request.post()
    text = _form_value(form, "payload")
    try:
        payload = orjson.loads(text)
        if not isinstance(payload, dict):
            raise ValidationError("the payload must be a JSON object", field="payload")
        new_id = await app.enqueue(original.type, payload, priority=original.priority.value,
                                   queue=original.queue, max_retries=original.max_retries,
                                   timeout=original.timeout_s)
    except orjson.JSONDecodeError as exc:
        return redirect(request, f"jobs/{original.id}?" + urlencode(
            {"edit_error": f"not JSON: {exc}"}) + "#copy")
    except ValidationError as exc:
        return redirect(request, f"jobs/{original.id}?" + urlencode(
            {"edit_error": exc.message}) + "#copy")
    return redirect(request, f"jobs/{new_id}")


async def job_delete(request: web.Request) -> web.StreamResponse:
    app = console_app_of(request)
    current = await app.get_job(request.match_info["id"])
    if not current.status.terminal:
        raise InvalidTransition(f"job {current.id} is {current.status.value}; cancel it "
                                "before deleting it", job_id=current.id)
    deleted = False
    if current.status is JobStatus.FAILED:
        try:
            await app.dlq_delete(current.id)
            deleted = True
        except JobNotFound:
            deleted = False  # its dead-letter entry is gone: delete the record itself
    if not deleted and not await ConsoleStore(app.store).delete_finished(current):
        raise InvalidTransition(f"job {current.id} changed meanwhile; nothing was deleted",
                                job_id=current.id)
    return redirect(request, "jobs")


async def dead_action(request: web.Request) -> web.StreamResponse:
    """Requeue or delete a selection (`job_id` fields) or, confirmed with the count that
    was shown, everything a filter matches. Runs in the background; shows progress."""
    app = console_app_of(request)
    form = await request.post()
    action = request.match_info["action"]
    if action not in ("requeue", "delete"):
        raise ValidationError("action must be requeue or delete", field="action")
    selected = [v for v in form.getall("job_id", []) if isinstance(v, str) and v]
    runner = request.app[BULK]
    if selected:
        if len(selected) > MAX_LIMIT:
            raise ValidationError(f"select at most {MAX_LIMIT} jobs", field="job_id")
        started = runner.start_selection(app, action, selected)
    else:
        if _form_value(form, "confirm") != "yes":
            raise ValidationError("confirm the bulk action first", field="confirm")
        expected = _form_value(form, "expected")
        f = data.DeadFilter.parse({k: _form_value(form, k)
                                   for k in ("queue", "type", "fingerprint")})
        started = runner.start_filter(app, action, f, int(expected) if expected.isdigit()
                                      else await data.dead_count(app, f))
    return redirect(request, f"bulk/{started.id}")


async def cron_run(request: web.Request) -> web.StreamResponse:
    app = console_app_of(request)
    c = app.crons.get(request.match_info["name"])
    if c is None:
        raise JobNotFound(f"no cron named {request.match_info['name']!r}")
    job_id = await app.enqueue(c.type, c.payload, priority=c.priority, queue=c.queue)
    return redirect(request, f"jobs/{job_id}")


async def queue_pause(request: web.Request) -> web.StreamResponse:
    return await _pause(request, True)


async def queue_resume(request: web.Request) -> web.StreamResponse:
    return await _pause(request, False)


async def _pause(request: web.Request, pause: bool) -> web.StreamResponse:
    app = console_app_of(request)
    form = await request.post()
    name = request.match_info["name"]
    if name not in app.queues:
        raise ValidationError(f"unknown queue {name!r}", field="queue")
    priority = _form_value(form, "priority") or None
    await (app.pause(name, priority) if pause else app.resume(name, priority))
    return redirect(request, "")


# -- the route table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsoleRoute:
    method: str
    path: str
    handler: Handler
    role: Role  # the least role the route needs; NONE: open (login)

    @property
    def name(self) -> str:
        return "console." + self.handler.__name__


ROUTES: tuple[ConsoleRoute, ...] = (
    ConsoleRoute("GET", "/", overview, Role.READ),
    ConsoleRoute("GET", "/jobs", jobs, Role.READ),
    ConsoleRoute("GET", "/jobs/{id}", job, Role.READ),
    ConsoleRoute("GET", "/dead", dead, Role.READ),
    ConsoleRoute("GET", "/dead/confirm", dead_confirm, Role.READ),
    ConsoleRoute("GET", "/bulk/{id}", bulk_status, Role.READ),
    ConsoleRoute("GET", "/nodes", nodes, Role.READ),
    ConsoleRoute("GET", "/cron", cron, Role.READ),
    ConsoleRoute("GET", "/live", events, Role.READ),
    ConsoleRoute("GET", "/login", login_form, Role.NONE),
    ConsoleRoute("POST", "/login", login, Role.NONE),
    ConsoleRoute("POST", "/logout", logout, Role.NONE),
    ConsoleRoute("POST", "/jobs/{id}/cancel", job_cancel, Role.ADMIN),
    ConsoleRoute("POST", "/jobs/{id}/retry", job_retry, Role.ADMIN),
    ConsoleRoute("POST", "/jobs/{id}/copy", job_copy, Role.ADMIN),
    ConsoleRoute("POST", "/jobs/{id}/delete", job_delete, Role.ADMIN),
    ConsoleRoute("POST", "/dead/{action}", dead_action, Role.ADMIN),
    ConsoleRoute("POST", "/cron/{name}/run", cron_run, Role.ADMIN),
    ConsoleRoute("POST", "/queues/{name}/pause", queue_pause, Role.ADMIN),
    ConsoleRoute("POST", "/queues/{name}/resume", queue_resume, Role.ADMIN),
)
ROLES = {route.name: route.role for route in ROUTES}

