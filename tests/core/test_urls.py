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
