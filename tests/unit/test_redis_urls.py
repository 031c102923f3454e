"""Redis URLs of every accepted form, checked when settings load; the cluster client's own
errors classified as outages (or not)."""

from __future__ import annotations

import pydantic
import pytest
from redis.exceptions import (
    ClusterError,
    MaxConnectionsError,
    RedisClusterException,
    SlotNotCoveredError,
)

from streamq import Settings
from streamq.connection import ClusterClient, SentinelClient, connect
from streamq.connection.packing import HiredisSentinelConnection, HiredisSSLConnection
from streamq.store.classify import outage
from streamq.urls import RedisTarget, parse_redis_url, redis_cli


@pytest.mark.parametrize(("url", "target"), [
    ("redis+cluster://10.0.0.1:7000,10.0.0.2:7001",
     RedisTarget("cluster", False, (("10.0.0.1", 7000), ("10.0.0.2", 7001)), "",
                 "redis://10.0.0.1:7000/0")),
    ("rediss+cluster://app:pw@node-a,[::1]:7000/0?ssl_cert_reqs=none",
     RedisTarget("cluster", True, (("node-a", 6379), ("::1", 7000)), "",
                 "rediss://app:pw@node-a:6379/0?ssl_cert_reqs=none")),
    ("redis+sentinel://:pw@s1,s2:26380,s3/mymaster/2",
     RedisTarget("sentinel", False, (("s1", 26379), ("s2", 26380), ("s3", 26379)),
                 "mymaster", "redis://:pw@s1:26379/2")),
    ("rediss+sentinel://s1:5000/jobs",
     RedisTarget("sentinel", True, (("s1", 5000),), "jobs", "rediss://s1:5000/0")),
    ("redis://127.0.0.1:6379/3", RedisTarget("single", False, (), "", "redis://127.0.0.1:6379/3")),
])
def test_accepted_forms(url: str, target: RedisTarget) -> None:
    assert parse_redis_url(url) == target
    assert Settings(redis_url=url).redis_url == url


@pytest.mark.parametrize(("url", "says"), [
    ("redis+cluster://:s3cret@a:7000,,b:7001", "names an empty host"),
    ("redis+cluster://a:7000,b:x", "port 'x' of b must be 1 to 65535"),
    ("redis+cluster://a:0", "port '0' of a must be 1 to 65535"),
    ("redis+cluster://a:7000/1", "database 0 only"),
    ("redis+sentinel://:s3cret@s1,s2", "names no service"),
    ("redis+sentinel://s1,s2?sentinel_password=s3cret&ssl_cert_reqs=none", "names no service"),
    ("redis+sentinel://s1/mymaster/one", "database 'one'"),
    ("redis+sentinel://s1/a/1/extra", "the path is /service_name[/db]"),
    ("redis+clusters://a:1", "unknown scheme redis+clusters://"),
])
def test_refused_forms_say_why_with_the_password_masked(url: str, says: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        Settings(redis_url=url)
    message = str(caught.value)
    assert says in message
    assert "s3cret" not in message


async def test_each_form_gets_its_client() -> None:
    cluster = connect(Settings(redis_url="rediss+cluster://a:7000,b:7001"))
    assert isinstance(cluster, ClusterClient)
    assert [n.name for n in cluster.startup_nodes] == ["a:7000", "b:7001"]
    assert cluster.get_connection_kwargs()["connection_class"] is HiredisSSLConnection
    await cluster.aclose()
    primary = connect(Settings(redis_url="redis+sentinel://:pw@s1:5000,s2/jobs/2"))
    assert isinstance(primary, SentinelClient) and primary.sentinel_manager is not None
    pool = primary.connection_pool
    assert pool.connection_class is HiredisSentinelConnection
    assert (pool.connection_kwargs["password"], pool.connection_kwargs["db"]) == ("pw", 2)
    assert [s.connection_pool.connection_kwargs["port"]
            for s in primary.sentinel_manager.sentinels] == [5000, 26379]
    await primary.aclose()


def test_redis_cli_hints() -> None:
    assert redis_cli("redis+cluster://u:pw@a:7000,b:7001") == "redis-cli -c -u redis://u:pw@a:7000"
    assert redis_cli("redis+sentinel://s1:5000/jobs/2") == (
        'redis-cli -u "redis://$(redis-cli -h s1 -p 5000 --raw SENTINEL '
        'get-master-addr-by-name jobs | paste -sd:)/2"'
    )


@pytest.mark.parametrize("exc", [
    ClusterError("TTL exhausted."),
    SlotNotCoveredError('Slot "12" is not covered by the cluster.'),
    MaxConnectionsError(),
    RedisClusterException("Redis Cluster cannot be connected. Please provide at least one "
                          "reachable node: Connection refused"),
    RedisClusterException("All slots are not covered after query all startup_nodes."),
])
def test_cluster_client_errors_are_outages(exc: Exception) -> None:
    assert outage(exc) is not None


def test_keys_of_several_slots_in_one_command_are_a_bug_not_an_outage() -> None:
    assert outage(RedisClusterException("XREAD - all keys must map to the same key slot")) is None
