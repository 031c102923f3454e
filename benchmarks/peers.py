"""The systems measured, and the pinned packages each one's private virtualenv gets.

Stdlib only: `setup` and `run` import it, and so do adapters inside peer virtualenvs.
Pins are exact so that a result file names what was measured; the peers cannot share one
environment (arq needs redis-py < 6, taskiq-redis needs >= 8, streaq uses coredis).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
VENVS_DIR = BENCH_DIR / ".venvs"


@dataclass(frozen=True)
class System:
    """One queue under test: where it runs and what its environment holds."""

    name: str
    module: str
    """Adapter module run with `python -m` in a fresh process."""
    requirements: tuple[str, ...] = ()
    """Pinned PyPI requirements of its own virtualenv; empty means the project venv."""
    dists: tuple[str, ...] = ()
    """Distributions whose installed versions are recorded with the results."""
    notes: str = ""
    drain_scale: int = 1
    """Multiplies N of the no-op drains: a system that drains 10,000 jobs in a tenth of a
    second needs more of them for a stable rate."""

    @property
    def own_venv(self) -> bool:
        return bool(self.requirements)

    @property
    def venv(self) -> Path:
        return VENVS_DIR / self.name

    @property
    def python(self) -> Path:
        """The interpreter that runs this system's adapter."""
        if not self.own_venv:
            return Path(sys.executable)
        return self.venv / "bin" / "python"

    @property
    def install_failed(self) -> Path:
        """Written by `setup` with pip's last error line when the install failed."""
        return self.venv / "INSTALL_FAILED"

    def available(self) -> bool:
        return self.python.exists()


SYSTEMS: dict[str, System] = {
    s.name: s
    for s in (
        System(
            "streamq",
            "benchmarks.adapters.streamq_adapter",
            dists=("streamq", "redis", "hiredis", "anyio"),
        ),
        System(
            "ceiling",
            "benchmarks.adapters.ceiling",
            dists=("redis", "hiredis"),
            notes="hand-written asyncio loop on one stream: pipelined XADD, "
            "XREADGROUP COUNT 100, pipelined XACK+XDEL; no features",
            drain_scale=5,
        ),
        System(
            "arq",
            "benchmarks.adapters.arq_adapter",
            requirements=("arq==0.28.0", "redis[hiredis]>=5,<6"),
            dists=("arq", "redis", "hiredis"),
        ),
        System(
            "saq",
            "benchmarks.adapters.saq_adapter",
            requirements=("saq[redis,hiredis]==0.26.4", "typing_extensions"),
            dists=("saq", "redis", "hiredis"),
        ),
        System(
            "taskiq",
            "benchmarks.adapters.taskiq_adapter",
            requirements=("taskiq==0.13.0", "taskiq-redis==1.2.4", "hiredis"),
            dists=("taskiq", "taskiq-redis", "redis", "hiredis"),
        ),
        System(
            "dramatiq",
            "benchmarks.adapters.dramatiq_adapter",
            requirements=("dramatiq[redis]==2.2.1", "hiredis"),
            dists=("dramatiq", "redis", "hiredis"),
        ),
        System(
            "streaq",
            "benchmarks.adapters.streaq_adapter",
            requirements=("streaq==7.2.0",),
            dists=("streaq", "coredis", "anyio"),
        ),
    )
}

PEERS: tuple[str, ...] = ("arq", "saq", "taskiq", "dramatiq", "streaq")
