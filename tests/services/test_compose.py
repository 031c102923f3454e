"""compose.yaml without Docker: each service's exact command runs as a local process.

The image's entrypoint and environment come from services/Dockerfile, each service's
command and environment from compose.yaml. Only what a host must change is changed: the
Redis address and the ports (free ones, since the test shares the machine), and listening
on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from streamq.devredis import free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "services" / "Dockerfile"


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def image_config() -> tuple[list[str], dict[str, str]]:
    """ENTRYPOINT (exec form) and ENV of the Dockerfile's final stage."""
    entrypoint: list[str] = []
    env: dict[str, str] = {}
    for word, rest in _final_stage():
        if word == "ENTRYPOINT":
            entrypoint = json.loads(rest)
        elif word == "ENV":
            env.update(pair.split("=", 1) for pair in rest.split())
    return entrypoint, env


def image_healthcheck() -> str:
    """The shell command of the final stage's HEALTHCHECK (shell form)."""
    [check] = [rest for word, rest in _final_stage() if word == "HEALTHCHECK"]
    return check.split(" CMD ", 1)[1].strip()


def _final_stage() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    final = text.split("\nFROM ")[-1]
    return [(word, rest) for word, _, rest in (line.strip().partition(" ")
                                                for line in final.splitlines())]


def interpolate(value: str) -> str:
    """compose's `${NAME:-default}`, from this process's environment."""
    return re.sub(r"\$\{(\w+):-([^}]*)\}",
                  lambda m: os.environ.get(m.group(1)) or m.group(2), value)


def local_argv(argv: list[str]) -> list[str]:
    """`streamq ...` of the image as this interpreter's `python -m streamq ...`."""
    return [sys.executable, "-m", "streamq", *argv[1:]] if argv[0] == "streamq" else argv


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.spec = compose()
        self.entrypoint, self.image_env = image_config()
        self.redis_port = free_port()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def env(self, service: str, **overrides: str) -> dict[str, str]:
        declared = {k: interpolate(str(v)) for k, v in
                    self.spec["services"][service]["environment"].items()}
        return {**os.environ, **self.image_env, **declared,
                "STREAMQ_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                "STREAMQ_API_HOST": "127.0.0.1", "STREAMQ_METRICS_HOST": "127.0.0.1",
                "STREAMQ_LIVENESS_FILE": str(self.tmp / f"{service}-alive"), **overrides}

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        with open(self.tmp / f"{name}.log", "wb") as out:
            self.processes[name] = subprocess.Popen(argv, env=env, cwd=self.tmp, stdout=out,
                                                    stderr=subprocess.STDOUT)

    def start_redis(self) -> None:
        command = self.spec["services"]["redis"]["command"]
        self.start("redis", [*command, "--port", str(self.redis_port), "--bind", "127.0.0.1",
                             "--dir", str(self.tmp)])
        wait_until(lambda: redis_ping(self.redis_port), "redis answers")

    def service_argv(self, service: str) -> list[str]:
        return local_argv([*self.entrypoint, *self.spec["services"][service]["command"]])

    def stop_all(self) -> dict[str, int]:
        codes = {}
        for name, process in reversed(list(self.processes.items())):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                codes[name] = process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait()
        return codes


def redis_ping(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def wait_until(check: Any, what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting until {what}")


def http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            raw = response.read()
            kind = response.headers.get("Content-Type", "")
            return response.status, json.loads(raw) if "json" in kind else raw.decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, None


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path)
    try:
        yield s
    finally:
        s.stop_all()


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose missing")
def test_compose_file_is_valid() -> None:
    result = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr


def test_compose_declares_what_production_needs() -> None:
    services = compose()["services"]
    redis_command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_command and "--maxmemory-policy noeviction" in redis_command
    assert "--maxmemory 768mb" in redis_command
    assert services["api"]["ports"] == ["127.0.0.1:8000:8000"]  # admin routes, no token
    for name in ("redis", "api", "worker"):
        limits = services[name]["deploy"]["resources"]["limits"]
        assert limits["cpus"] and limits["memory"], name
    check = image_healthcheck()  # the liveness file, read by the shell: no interpreter
    assert "STREAMQ_LIVENESS_FILE" in check and "streamq" not in check.replace(
        "STREAMQ_LIVENESS_FILE", "") and "python" not in check
    assert "healthcheck" not in services["api"] and "healthcheck" not in services["worker"]
    assert "--constraint constraints.txt" in DOCKERFILE.read_text()
    assert services["redis"]["healthcheck"]["test"][:2] == ["CMD", "redis-cli"]
    worker = services["worker"]
    assert worker["deploy"]["replicas"] == 3 and "ports" not in worker
    timeout_s = float(worker["environment"]["STREAMQ_JOB_TIMEOUT_S"])
    assert float(worker["stop_grace_period"].rstrip("s")) > timeout_s
    assert services["prometheus"]["profiles"] == ["observability"]
    entrypoint, env = image_config()
    assert entrypoint == ["streamq"] and env["STREAMQ_LOG_FORMAT"] == "json"
    assert "USER 10001" in DOCKERFILE.read_text()
    scrape = yaml.safe_load((ROOT / "services" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert jobs["streamq-worker"]["dns_sd_configs"][0]["port"] == int(
        worker["environment"]["STREAMQ_METRICS_PORT"])
    assert jobs["streamq-api"]["static_configs"][0]["targets"] == [
        f"api:{services['api']['environment']['STREAMQ_API_PORT']}"]


def mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path of a service's bind mounts (named volumes left out)."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            found[target] = ROOT / source
    return found


def test_observability_profile_provisions_prometheus_and_grafana() -> None:
    services = compose()["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    assert prometheus["profiles"] == grafana["profiles"] == ["observability"]
    # Prometheus reads its config and every rule file it names from the mounted folder.
    config_flag = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    config_path = config_flag.split("=", 1)[1]
    prom_mounts = mounts(prometheus)
    folder = prom_mounts[str(Path(config_path).parent)]
    config = yaml.safe_load((folder / Path(config_path).name).read_text())
    assert config["rule_files"] and all((folder / f).is_file() for f in config["rule_files"])
    # Grafana: provisioning folder, the dashboards folder its provider reads, and a data
    # source pointing at the Prometheus service.
    graf_mounts = mounts(grafana)
    provisioning = graf_mounts["/etc/grafana/provisioning"]
    source = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    port = prometheus["ports"][0].split(":")[-1]
    assert source["datasources"][0]["url"] == f"http://prometheus:{port}"
    provider = yaml.safe_load((provisioning / "dashboards" / "streamq.yml").read_text())
    dashboards = graf_mounts[provider["providers"][0]["options"]["path"]]
    assert (dashboards / "streamq.json").is_file()
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (dashboards / Path(home).name).is_file() and home.startswith(
        provider["providers"][0]["options"]["path"])
    assert set(grafana["depends_on"]) == {"prometheus"}


def test_each_service_command_runs_as_a_local_process(stack: Stack) -> None:
    stack.start_redis()
    api_port = free_port()
    stack.start("api", stack.service_argv("api"), stack.env("api", STREAMQ_API_PORT=str(api_port)))
    replicas = compose()["services"]["worker"]["deploy"]["replicas"]
    metric_ports = [free_port() for _ in range(replicas)]
    for i, port in enumerate(metric_ports):
        stack.start(f"worker-{i}", stack.service_argv("worker"),
                    stack.env("worker", STREAMQ_METRICS_PORT=str(port)))
    base = f"http://127.0.0.1:{api_port}"
    wait_until(lambda: http("GET", f"{base}/readyz")[0] == 200, "the API is ready")
    for service in ("api", "worker"):  # the image's health check, as Docker runs it
        alive = Path(stack.env(service)["STREAMQ_LIVENESS_FILE"])
        wait_until(alive.exists, f"{service} touched its liveness file")
        probe = ["/bin/sh", "-c", image_healthcheck()]
        assert subprocess.run(probe, env=stack.env(service), timeout=10).returncode == 0
    status, job = http("POST", f"{base}/jobs", {"type": "demo.add", "payload": {"a": 2, "b": 3}})
    assert status == 202, job
    wait_until(lambda: http("GET", f"{base}/jobs/{job['id']}")[1]["status"] == "succeeded",
               "the job succeeded")
    assert http("GET", f"{base}/jobs/{job['id']}")[1]["result"] == 5
    for port in metric_ports:
        status, text = http("GET", f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and "streamq_jobs_in_flight" in text
    wait_until(lambda: f'streamq_queue_workers{{queue="default"}} {replicas}.0'
               in str(http("GET", f"{base}/metrics")[1]), "every replica is registered")
    codes = stack.stop_all()
    assert all(code == 0 for name, code in codes.items() if name != "redis"), codes
    for name in ("api", "worker-0"):
        lines = (stack.tmp / f"{name}.log").read_text().splitlines()
        assert lines and all(json.loads(line)["level"] for line in lines)  # JSON logs
