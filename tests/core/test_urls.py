"""RedisTarget: REDIS_URL parsed once, its secrets known by value, never shown."""

from __future__ import annotations

import pytest

from cpa_ops.core.known_secrets import MASK
from cpa_ops.core.settings import load_settings
from cpa_ops.core.target import RedisTarget

SECRET = "s3cr3t-PW-xyz"


class TestRedisTarget:
    def test_settings_build_it_once(self) -> None:
        settings = load_settings(redis_url=f"redis://app:{SECRET}@cache:6380/2")
        target = settings.redis_target
        assert target is settings.redis_target
        assert (target.mode, target.scheme, target.host, target.port) == (
            "standalone",
            "redis",
            "cache",
            6380,
        )
        assert target.address == "cache:6380"
        assert target.masked == "redis://app:***@cache:6380/2"
        assert SECRET not in repr(target) and SECRET not in repr(settings)

    def test_cluster_seeds_are_split_and_each_masked(self) -> None:
        url = f"redis://:{SECRET}@a:7000, redis://:{SECRET}@b:7001"
        target = load_settings(redis_mode="cluster", redis_url=url).redis_target
        assert target.addresses == ("a:7000", "b:7001")
        assert target.masked == "redis://:***@a:7000,redis://:***@b:7001"

    def test_sentinel_description_names_the_service(self) -> None:
        settings = load_settings(
            redis_mode="sentinel",
            redis_sentinels="s1:26379,s2:26379",
            redis_sentinel_master="mymaster",
            redis_url=f"redis://:{SECRET}@unused/0",
        )
        target = settings.redis_target
        assert target.sentinel_addresses == [("s1", 26379), ("s2", 26379)]
        assert target.description == (
            "sentinel service mymaster via s1:26379,s2:26379 (redis://:***@unused/0)"
        )

    @pytest.mark.parametrize(
        ("url", "secrets"),
        [
            (f"redis://:{SECRET}@h:1/0", (SECRET,)),
            ("redis://user:p%40ss%2Fw@h:1/0", ("p%40ss%2Fw", "p@ss/w")),
            ("redis://lone-secret@h:1/0", ("lone-secret",)),
            (f"redis://h:1/0?password={SECRET}", (SECRET,)),
            (f"rediss://h:1/0?ssl_password={SECRET}", (SECRET,)),
            ("redis://h:1/0", ()),
            ("unix:///run/redis.sock", ()),
        ],
    )
    def test_secrets_are_known_in_every_spelling(self, url: str, secrets: tuple[str, ...]) -> None:
        target = RedisTarget.from_url(url)
        assert target.secrets == secrets
        for secret in secrets:
            assert secret not in target.without_secrets(f"error: {secret}!")
            assert MASK in target.without_secrets(f"error: {secret}!")

    def test_another_node_and_a_sentinel(self) -> None:
        base = RedisTarget.from_url(f"rediss://app:{SECRET}@seed:6380/2?ssl_ca_certs=/ca.pem")
        node = base.for_node("[::1]:7000")
        assert (node.address, node.host, node.port) == ("[::1]:7000", "::1", 7000)
        assert node.secrets == (SECRET,)
        sentinel = base.for_sentinel("10.0.0.9:26379")
        assert sentinel.secrets == () and sentinel.scheme == "rediss"
        unix = RedisTarget.from_url("unix:///run/redis.sock")
        assert unix.is_unix and unix.address == "/run/redis.sock" and unix.host is None
        assert unix.for_node("h:1").url == "redis://h:1"

    def test_connection_options_hold_credentials_db_and_tls(self) -> None:
        target = RedisTarget.from_url(
            f"rediss://app:{SECRET}@seed:6380/2?ssl_ca_certs=/ca.pem&protocol=3"
        )
        options = target.connection_options()
        assert options["username"] == "app" and options["password"] == SECRET
        assert (options["db"], options["ssl"], options["ssl_ca_certs"]) == (2, True, "/ca.pem")
        assert "host" not in options and "port" not in options


# Issue 14, class 7: unix:// and the other corners of a REDIS_URL redis-py would misread


def _refusal(url: str) -> str:
    from cpa_ops.core.settings import ConfigError

    with pytest.raises(ConfigError) as caught:
        load_settings(redis_url=url)
    [line] = caught.value.problems
    assert line.startswith("REDIS_URL ") and "unix:///absolute/path/to/socket" in line, line
    return line


class TestUnixSocketUrls:
    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            # redis-py reads only the path: the first segment would be a host, dropped
            ("unix://relative/path.sock", "has a host or a relative path after unix://"),
            ("unix://./relative.sock", "has a host or a relative path after unix://"),
            ("unix://localhost/run/redis.sock", "has a host or a relative path after unix://"),
            ("unix://%2Frun%2Fredis.sock", "has a host or a relative path after unix://"),
            (f"unix://:{SECRET}@relative/x.sock", "has a host or a relative path"),
            ("unix:relative/path.sock", "has a relative socket path"),
            ("unix:", "names no socket path"),
            ("unix://", "names no socket path"),
            ("unix:///", "names no socket path"),
            (f"unix://:{SECRET}@", "names no socket path"),
            ("unix:///run/", "names a directory"),
            ("unix:///run/a%00b.sock", "control character"),
            ("unix:///run/a%1b%5b2Jb.sock", "control character"),
            ("unix:///run/a%FFb.sock", "percent-encoding is not UTF-8"),
            ("unix:///run/" + "s" * 100 + ".sock", "longer than 107 bytes"),
            ("unix:///run/redis.sock?db=abc", "not a whole number (expected ?db=0"),
            ("unix:///run/redis.sock?db=-1", "not a whole number"),
            ("unix:///run/redis.sock?db=1&db=2", "has the query option db more than once"),
        ],
    )
    def test_refused_naming_what_is_accepted(self, url: str, expected: str) -> None:
        line = _refusal(url)
        assert expected in line and SECRET not in line

    @pytest.mark.parametrize(
        ("url", "path", "db"),
        [
            ("unix:///run/redis.sock", "/run/redis.sock", 0),
            ("unix:/run/redis.sock", "/run/redis.sock", 0),
            (f"unix://:{SECRET}@/run/redis.sock", "/run/redis.sock", 0),
            ("unix:///run/my%20redis/r.sock", "/run/my redis/r.sock", 0),
            ("unix:///run/caf%C3%A9.sock?db=3", "/run/café.sock", 3),
            ("unix:///" + "s" * 101 + ".sock", "/" + "s" * 101 + ".sock", 0),  # 107 bytes
        ],
    )
    def test_accepted_as_redis_py_reads_them(self, url: str, path: str, db: int) -> None:
        """What is accepted names the socket redis-py connects to, and the target says so."""
        from redis.asyncio.connection import parse_url

        from cpa_ops.core.urls import socket_path

        target = load_settings(redis_url=url).redis_target
        assert socket_path(url) == path == parse_url(url)["path"] == target.address
        assert target.connection_options().get("db", 0) == db


class TestQueryCorners:
    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            ("redis://h:1/1?db=2", "names two databases"),
            ("redis://h:1/0?db=abc&db=1", "has the query option db more than once"),
            ("redis://h:1/0?protocol=2&protocol=3", "protocol more than once"),
            (f"redis://h:1/0?password=first-{SECRET}&password={SECRET}", "password more than once"),
            ("redis://h:1/%31", "not a whole number"),
            ("redis://h:1/99999999999999999999", "a database number no Redis has"),
            ("unix:///tmp/r.sock?db=2147483648", "a database number no Redis has"),
            ("redis://[fe80::1%25%1B]:1/0", "invalid IPv6"),
            ("redis://[fe80::1%25a%20b]:1/0", "invalid IPv6"),
        ],
    )
    def test_what_redis_py_would_read_otherwise_is_refused(self, url: str, expected: str) -> None:
        from cpa_ops.core.settings import ConfigError

        with pytest.raises(ConfigError) as caught:
            load_settings(redis_url=url)
        [line] = caught.value.problems
        assert expected in line and SECRET not in line, line

    @pytest.mark.parametrize(
        "url", ["redis://h:1/1?db=1", "redis://h:1/2?db=02", "redis://h:1?db=4"]
    )
    def test_one_database_said_twice_alike_is_accepted(self, url: str) -> None:
        from redis.asyncio.connection import parse_url

        target = load_settings(redis_url=url).redis_target
        assert target.connection_options()["db"] == parse_url(url)["db"]


class TestAsRedisPyReadsIt:
    @pytest.mark.parametrize(
        "url", ["redis://[fe80::1%25eth0]:6379/0", "redis://[fe80::1%eth0]:1", "redis://[::1]:2/0"]
    )
    def test_an_ipv6_zone_is_the_host_redis_py_connects_to(self, url: str) -> None:
        """RFC 6874 writes a zone as %25: redis-py decodes the host, and so does the probe (it
        looked '%25eth0' up in DNS and failed with `dns` where the service connects)."""
        from redis.asyncio.connection import parse_url

        target = load_settings(redis_url=url).redis_target
        assert target.host == parse_url(url)["host"]
        assert target.address == f"[{parse_url(url)['host']}]:{parse_url(url)['port']}"

    @pytest.mark.parametrize(
        "url",
        [
            "rediss://h:1/0?ssl_ca_certs=/etc/my%20certs/ca.pem",
            "redis://h:1/0?client_name=a%20b",
            "redis://h:1/0?client_name=x%2By",
        ],
    )
    def test_a_query_without_secrets_is_shown_as_written(self, url: str) -> None:
        assert load_settings(redis_url=url).redis_target.masked == url

    def test_a_query_password_is_masked(self) -> None:
        url = f"redis://h:1/0?client_name=a%20b&password={SECRET}"
        masked = load_settings(redis_url=url).redis_target.masked
        assert SECRET not in masked and masked.endswith(f"password={MASK}"), masked

    def test_the_probe_resolves_a_zone_without_dns(self) -> None:
        """The probe's resolve step takes the decoded zone as a numeric address (no lookup)."""
        import asyncio
        import time

        from cpa_ops.core.redis.connection import resolve

        target = load_settings(redis_url="redis://[fe80::1%25lo]:6379/0").redis_target
        asyncio.run(resolve(target, time.monotonic() + 5))  # raised ProbeFailure("dns")
