"""compose.yaml's `history` profile: PostgreSQL for the archive, the URL given to the API
and the workers alike (the process that finishes or cancels a job queues it for the
archive), and an image that has the driver."""

from __future__ import annotations

from tests.services.test_compose import DOCKERFILE, compose, interpolate


def test_history_profile_runs_postgres_and_every_process_gets_the_url() -> None:
    services = compose()["services"]
    postgres = services["postgres"]
    assert postgres["profiles"] == ["history"] and postgres["image"].startswith("postgres:15")
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    for name in ("api", "worker"):
        assert services[name]["environment"]["STREAMQ_HISTORY_URL"] == (
            "${STREAMQ_HISTORY_URL:-}")
    assert interpolate("${STREAMQ_NO_SUCH_VARIABLE:-}") == ""  # unset: no archive
    assert "'.[postgres]'" in DOCKERFILE.read_text()
