"""Local Redis topologies for tests: a Redis Cluster of six `redis-server` processes and a
primary + replica watched by three sentinels, on free ports, stopped by pid.

Failover timings are short (node timeout 1 s, down-after 1 s) so that a killed primary is
replaced within a few seconds.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from redis.crc import key_slot

from streamq.devredis import RedisServer, free_port
from streamq.errors import ConfigurationError

NODE_TIMEOUT_MS = 1_000
SERVICE = "streamq"


def _wait(what: str, check: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"{what} within {timeout_s} s")


def _info(port: int, section: str, password: str | None = None) -> dict[str, str]:
    with redis.Redis(port=port, password=password, socket_timeout=1,
                     decode_responses=True) as r:
        text = r.execute_command("INFO", section)
    if isinstance(text, dict):  # redis-py parses INFO itself
        return {k: str(v) for k, v in text.items()}
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {k: v for k, v in pairs}


class LocalCluster:
    """Three primaries and three replicas (`redis-cli --cluster create ... --cluster-replicas
    1`), AOF on each node."""

    def __init__(self, root: Path, primaries: int = 3, appendfsync: str = "everysec") -> None:
        self.root = root
        self.appendfsync = appendfsync
        self.servers = [self._node(i) for i in range(primaries * 2)]

    def _node(self, i: int) -> RedisServer:
        """Node i on fresh free ports (its own and its cluster bus port: port + 10000 can
        lie past 65535)."""
        data_dir = self.root / f"node-{i}"
        data_dir.mkdir(parents=True, exist_ok=True)
        return RedisServer(
            data_dir=data_dir, appendfsync=self.appendfsync,
            extra_args=(
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(data_dir / "nodes.conf"),
                "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                "--cluster-port", str(free_port()),
                "--cluster-replica-validity-factor", "0",
            ),
        )

    @property
    def url(self) -> str:
        """Seed nodes: the first three (any one is enough)."""
        seeds = ",".join(f"127.0.0.1:{s.port}" for s in self.servers[:3])
        return f"redis+cluster://{seeds}"

    def start(self) -> LocalCluster:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        for i in range(len(self.servers)):
            self._start_node(i)
        subprocess.run(
            ["redis-cli", "--cluster", "create",
             *(f"127.0.0.1:{s.port}" for s in self.servers),
             "--cluster-replicas", "1", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )
        _wait("cluster state ok on every node, replicas in sync", self._settled, 30)

    def _start_node(self, i: int, attempts: int = 3) -> None:
        """A free port can be taken by another process between its pick and the server's
        bind (parallel tests, outgoing connections): such a node starts again on new ports."""
        for attempt in range(attempts):
            try:
                self.servers[i].start()
                return
            except ConfigurationError as exc:
                if "Address already in use" not in str(exc) or attempt == attempts - 1:
                    raise
                (self.root / f"node-{i}" / "nodes.conf").unlink(missing_ok=True)
                self.servers[i] = self._node(i)

    def _settled(self) -> bool:
        for server in self.live():
            if self._state(server) != "ok":
                return False
            repl = _info(server.port, "replication")
            if repl.get("role") == "slave" and repl.get("master_link_status") != "up":
                return False
        return len(self.primaries()) == len(self.servers) // 2

    def _state(self, server: RedisServer) -> str:
        with redis.Redis(port=server.port, decode_responses=True) as r:
            return str(r.cluster("INFO")["cluster_state"])

    def live(self) -> list[RedisServer]:
        return [s for s in self.servers if s.process is not None]

    def nodes(self) -> dict[int, dict[str, Any]]:
        """`CLUSTER NODES` as a live node sees it, by port."""
        with redis.Redis(port=self.live()[0].port, decode_responses=True) as r:
            nodes: dict[str, dict[str, Any]] = r.cluster("NODES")
        return {int(address.rsplit(":", 1)[1]): node for address, node in nodes.items()}

    def primaries(self) -> list[RedisServer]:
        """Live primaries serving slots."""
        ports = {port for port, node in self.nodes().items()
                 if "master" in node["flags"] and "fail" not in node["flags"] and node["slots"]}
        return [s for s in self.live() if s.port in ports]

    def primary_of(self, key: str) -> RedisServer:
        """The primary serving `key`'s slot, as the cluster sees it (a killed one until
        the others mark it failed)."""
        slot = key_slot(key.encode())
        for port, node in self.nodes().items():
            if "master" not in node["flags"] or "fail" in node["flags"]:
                continue
            if any(int(low) <= slot <= int(high) for low, high in node["slots"]):
                return next(s for s in self.servers if s.port == port)
        raise AssertionError(f"no primary serves slot {slot}")

    def wait_failover(self, killed: RedisServer, key: str, timeout_s: float = 20) -> float:
        """Wait until a live primary serves `key`'s slot again and every live node says
        the cluster is ok; returns the seconds it took."""
        began = time.monotonic()

        def taken_over() -> bool:
            try:
                if self.primary_of(key) is killed:
                    return False
            except AssertionError:  # marked failed, not replaced yet
                return False
            return all(self._state(s) == "ok" for s in self.live())

        _wait("a replica took over", taken_over, timeout_s)
        return time.monotonic() - began

    def rejoin(self, server: RedisServer, timeout_s: float = 30) -> None:
        """Restart a killed node on its data dir; it comes back as a replica of the node
        that replaced it. Returns once every replica is in sync again."""
        server.start()
        _wait("the restarted node rejoined as a replica", self._settled, timeout_s)

    def flushall(self) -> None:
        for server in self.primaries():
            with redis.Redis(port=server.port) as r:
                r.flushall()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


class GuardedServer(RedisServer):
    """A redis-server that may require a password: answering NOAUTH counts as up."""

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False


class SentinelServer(GuardedServer):
    """`redis-server sentinel.conf --sentinel`, watching one primary."""

    def __init__(self, data_dir: Path, primary_port: int, quorum: int = 2,
                 down_after_ms: int = 1_000, failover_timeout_ms: int = 5_000,
                 password: str | None = None, own_password: str | None = None) -> None:
        super().__init__(data_dir=data_dir)
        self.conf = data_dir / "sentinel.conf"
        auth = [f"sentinel auth-pass {SERVICE} {password}"] if password else []
        if own_password:  # clients, and the other sentinels, must authenticate
            auth += [f"requirepass {own_password}", f"sentinel sentinel-pass {own_password}"]
        self.conf.write_text("\n".join([
            f"port {self.port}",
            "bind 127.0.0.1",
            f"dir {data_dir}",
            f"logfile {data_dir / 'redis.log'}",
            f"sentinel monitor {SERVICE} 127.0.0.1 {primary_port} {quorum}",
            f"sentinel down-after-milliseconds {SERVICE} {down_after_ms}",
            f"sentinel failover-timeout {SERVICE} {failover_timeout_ms}",
            f"sentinel parallel-syncs {SERVICE} 1",
            *auth,
            "",
        ]))

    def command(self) -> list[str]:
        return [self.binary, str(self.conf), "--sentinel"]


class LocalSentinel:
    """A primary, one replica and three sentinels (quorum 2); the servers and the
    sentinels may each require a password."""

    def __init__(self, root: Path, appendfsync: str = "everysec",
                 password: str | None = None, sentinel_password: str | None = None) -> None:
        self.root = root
        self.password = password
        self.sentinel_password = sentinel_password
        dirs = [root / name for name in ("primary", "replica", "s0", "s1", "s2")]
        for d in dirs:
            d.mkdir(parents=True, exist_ok=True)
        auth = ("--requirepass", password, "--masterauth", password) if password else ()
        self.primary = GuardedServer(data_dir=dirs[0], appendfsync=appendfsync,
                                     extra_args=auth)
        self.replica = GuardedServer(
            data_dir=dirs[1], appendfsync=appendfsync,
            extra_args=("--replicaof", "127.0.0.1", str(self.primary.port), *auth),
        )
        self.sentinels = [SentinelServer(d, self.primary.port, password=password,
                                         own_password=sentinel_password) for d in dirs[2:]]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        userinfo = f":{self.password}@" if self.password else ""
        query = f"?sentinel_password={self.sentinel_password}" if self.sentinel_password else ""
        return f"redis+sentinel://{userinfo}{hosts}/{SERVICE}{query}"

    def _sentinel(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, password=self.sentinel_password, decode_responses=True)

    def start(self) -> LocalSentinel:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.primary.start()
        self.replica.start()
        for sentinel in self.sentinels:
            sentinel.start()
        _wait("replica in sync, sentinels know each other and the replica",
              self._settled, 30)

    def _settled(self) -> bool:
        primary = self.current_primary()
        for server in (self.primary, self.replica):
            if server.process is None or server.port == primary:
                continue
            repl = _info(server.port, "replication", self.password)
            if repl.get("master_link_status") != "up" or repl.get("master_port") != str(
                primary
            ):
                return False
        for sentinel in self.sentinels:
            with self._sentinel(sentinel.port) as r:
                state = r.sentinel_master(SERVICE)
                replicas = r.sentinel_slaves(SERVICE)
            if state["num-other-sentinels"] != 2 or state["is_sdown"] or state["is_odown"]:
                return False
            if not any(not x["is_sdown"] and x.get("master-link-status") == "ok"
                       for x in replicas):
                return False
        return True

    def current_primary(self) -> int:
        """The primary's port, as the first live sentinel reports it."""
        for sentinel in self.sentinels:
            try:
                with self._sentinel(sentinel.port) as r:
                    _, port = r.sentinel_get_master_addr_by_name(SERVICE)
                    return int(port)
            except (redis.RedisError, OSError):
                continue
        raise AssertionError("no sentinel answers")

    def rejoin(self, server: RedisServer, timeout_s: float = 30) -> None:
        """Restart a killed primary on its data dir; the sentinels make it a replica of
        the promoted one. Returns once it is in sync and the sentinels agree."""
        server.start()
        _wait("the old primary rejoined as a replica", self._settled, timeout_s)

    def flushall(self) -> None:
        with redis.Redis(port=self.current_primary(), password=self.password) as r:
            r.flushall()

    def server(self, port: int) -> RedisServer:
        return next(s for s in (self.primary, self.replica) if s.port == port)

    def wait_failover(self, killed: RedisServer, timeout_s: float = 30) -> float:
        """Wait until the sentinels name a new primary that accepts writes."""
        began = time.monotonic()

        def promoted() -> bool:
            port = self.current_primary()
            role = _info(port, "replication", self.password).get("role")
            return port != killed.port and role == "master"

        _wait("the sentinels promoted the replica", promoted, timeout_s)
        return time.monotonic() - began

    def stop(self) -> None:
        for server in (*self.sentinels, self.replica, self.primary):
            server.stop()
