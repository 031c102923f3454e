"""What `streamq dev` prints at start, for any app: the Redis, the API (and the console
when the API serves one), the export line for a private Redis, and a job to paste."""

from __future__ import annotations

from streamq import App, Context, Settings
from streamq.dev_banner import banner, example_job


def app_with_tasks() -> App:
    app = App(Settings(redis_url="redis://127.0.0.1:1/0"))

    @app.task("b.render")
    async def render(template: str, count: int, ratio: float, ctx: Context) -> None: ...

    @app.task("a.opaque")
    async def opaque(when: dict[str, list[int]] | None) -> None: ...

    return app


def test_a_private_redis_gets_an_export_line_and_the_console_its_url() -> None:
    lines = banner(app_with_tasks(), "redis://127.0.0.1:4242/0", True, "http://h:1", True)
    assert lines[:3] == ["Redis    redis://127.0.0.1:4242/0 (private, stopped on exit)",
                         "API      http://h:1", "console  http://h:1/ui/"]
    assert "  export STREAMQ_REDIS_URL=redis://127.0.0.1:4242/0" in lines
    assert lines[-1] == ("  curl -X POST http://h:1/jobs -H 'Content-Type: application/json'"
                         ' -d \'{"type": "b.render", "payload": {"template": "text", '
                         '"count": 2, "ratio": 3}}\'')


def test_a_given_redis_is_named_without_its_password_and_no_export_line() -> None:
    lines = banner(App(Settings()), "redis://:pw@10.0.0.1:6379/0", False, "http://h:1", False)
    assert lines == ["Redis    redis://:***@10.0.0.1:6379/0 (from the settings)",
                     "API      http://h:1"]


def test_no_example_without_a_task_whose_payload_can_be_made_up() -> None:
    app = app_with_tasks()
    del app.tasks["b.render"]
    assert example_job(app) is None
