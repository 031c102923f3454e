"""Tables stay one row per line whatever a job's error says."""

from __future__ import annotations

from collections.abc import Callable

import anyio
from click.testing import CliRunner

from streamq import JobStatus, Settings
from streamq.cli import main
from streamq.cli.render import table
from tests.api.tasks import make_app
from tests.support.nodes import running_node


def test_cells_with_line_breaks_are_folded() -> None:
    text = table(["A", "B"], [["x\ny", "tab\there"], [None, "  ok  "]])
    assert text.splitlines() == ["A    B", "x y  tab here", "     ok"]


def test_dlq_list_keeps_one_row_per_dead_letter(
    settings_for: Callable[..., Settings], redis_url: str
) -> None:
    async def dead_letters() -> list[str]:
        async with make_app(settings_for()) as app:
            reason = "first line\nsecond line\n\tthird"
            ids = [await app.enqueue("always.fails", {"reason": reason}) for _ in range(2)]
            async with running_node(app):
                for job_id in ids:
                    assert (await app.wait_for(job_id, timeout_s=10)).status is JobStatus.FAILED
            return ids

    job_ids = anyio.run(dead_letters)
    result = CliRunner().invoke(main, ["dlq", "list"], env={
        "STREAMQ_REDIS_URL": redis_url, "STREAMQ_APP": None})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 3 and lines[0].startswith("JOB"), result.output
    for line in lines[1:]:
        assert line.split()[0] in job_ids
        assert "first line second line third" in line
