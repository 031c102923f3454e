"""Fresh child processes for one measurement, run with each system's own interpreter.

Producers are short-lived (`subprocess.run`); workers are started in their own session
so that the orchestrator can stop each one, and only those, by its pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .adapters.harness import RECORD
from .peers import System

REPO = Path(__file__).resolve().parent.parent
_source = REPO
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def use_source(root: Path) -> None:
    """Run children from `root` (which holds `streamq/` and `benchmarks/`) instead of the
    work tree, e.g. an exported commit, so that edits in progress do not leak into a run."""
    global _source
    _source = root


class ChildFailed(RuntimeError):
    """Raised when an adapter process exits non-zero or does not answer in time."""


def child_env() -> dict[str, str]:
    """The caller's environment without STREAMQ_* settings, so that runs compare."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMQ_")}
    env["PYTHONPATH"] = str(_source)
    return env


def child_command(system: System, role: str, cfg: dict[str, Any]) -> list[str]:
    return [str(system.python), "-m", system.module, role, json.dumps(cfg)]


def run_role(system: System, role: str, cfg: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """Run a producer-side role to completion; returns the JSON it printed."""
    try:
        done = subprocess.run(
            child_command(system, role, cfg),
            cwd=_source,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ChildFailed(f"{system.name} {role}: no answer within {timeout_s:.0f} s") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ChildFailed(f"{system.name} {role} exited {done.returncode}: {' | '.join(tail)}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


class Workers:
    """`count` worker processes of one system, recording into `workdir`."""

    def __init__(self, system: System, cfg: dict[str, Any], count: int, workdir: Path) -> None:
        self.system = system
        self.workdir = workdir
        self.outs = [workdir / f"worker{k}.bin" for k in range(count)]
        self.logs = [workdir / f"worker{k}.log" for k in range(count)]
        self.procs: list[subprocess.Popen[bytes]] = []
        for out, log in zip(self.outs, self.logs, strict=True):
            with log.open("wb") as sink:
                self.procs.append(
                    subprocess.Popen(
                        child_command(system, "work", {**cfg, "out": str(out)}),
                        cwd=_source,
                        env=child_env(),
                        stdout=sink,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )

    def start(self, timeout_s: float = 60.0) -> None:
        """Wait until every worker is built, then let them all consume at once."""
        self.ready(timeout_s)
        self.go()

    def ready(self, timeout_s: float = 60.0) -> None:
        """Wait until every worker has imported and built what it runs."""
        deadline = time.monotonic() + timeout_s
        for proc, out in zip(self.procs, self.outs, strict=True):
            while not Path(str(out) + ".ready").exists():
                self._check_alive(proc)
                if time.monotonic() > deadline:
                    raise ChildFailed(f"{self.system.name} worker not ready in {timeout_s} s")
                time.sleep(0.01)

    def go(self) -> None:
        """Let the ready workers start consuming."""
        (self.workdir / "go").touch()

    def _check_alive(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is not None:
            log = self.logs[self.procs.index(proc)].read_text(errors="replace")
            tail = " | ".join(log.strip().splitlines()[-3:])
            raise ChildFailed(f"{self.system.name} worker exited {proc.returncode}: {tail}")

    def completed(self) -> int:
        return sum(out.stat().st_size // RECORD.size for out in self.outs if out.exists())

    def wait_for(self, expected: int, timeout_s: float) -> None:
        """Poll the record files until `expected` jobs have completed."""
        deadline = time.monotonic() + timeout_s
        while self.completed() < expected:
            for proc in self.procs:
                self._check_alive(proc)
            if time.monotonic() > deadline:
                raise ChildFailed(
                    f"{self.system.name}: {self.completed()}/{expected} jobs done "
                    f"after {timeout_s:.0f} s"
                )
            time.sleep(0.02)
        time.sleep(0.1)  # a duplicate delivery, if any, shows up in the count (50 ms flushes)

    def records(self) -> list[tuple[float, float, float, float]]:
        rows: list[tuple[float, float, float, float]] = []
        for out in self.outs:
            if out.exists():
                rows += RECORD.iter_unpack(out.read_bytes())
        return rows

    def wait_until(
        self, expected: int, timeout_s: float, check: Callable[[], object] | None = None
    ) -> tuple[int, float]:
        """Poll every few ms until `expected` jobs have completed; return the count and the
        workers' CPU seconds read together, for a per-job CPU figure over a window.
        `check` is called on every poll and may raise (a producer that failed)."""
        deadline = time.monotonic() + timeout_s
        while (done := self.completed()) < expected:
            for proc in self.procs:
                self._check_alive(proc)
            if check is not None:
                check()
            if time.monotonic() > deadline:
                raise ChildFailed(
                    f"{self.system.name}: {done}/{expected} jobs done after {timeout_s:.0f} s"
                )
            time.sleep(0.003)
        return done, self.cpu_seconds()

    def cpu_seconds(self) -> float:
        """utime + stime of every worker process (all its threads), from /proc/<pid>/stat."""
        total = 0
        for proc in self.procs:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15
        return total / _CLOCK_TICKS

    def _status_mib(self, key: str) -> list[float]:
        values = []
        for proc in self.procs:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith(key))
            values.append(kib / 1024)
        return values

    def peak_rss_mib(self) -> list[float]:
        """VmHWM of each worker: the peak resident set since the process started."""
        return self._status_mib("VmHWM:")

    def rss_mib(self) -> list[float]:
        """VmRSS of each worker: its resident set now."""
        return self._status_mib("VmRSS:")

    def stop(self) -> None:
        """SIGKILL each worker's own process group (it was started in a new session)."""
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            proc.wait()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
