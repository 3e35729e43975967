"""The settings model: defaults, validation lines that name the variable, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpa_ops.core.settings import ConfigError, load_settings
from cpa_ops.core.urls import mask_dsn, mask_url

SECRET = "s3cr3t-PW-xyz"


class TestDefaults:
    def test_defaults_match_the_documented_table(self) -> None:
        """With nothing set, every field has its documented default."""
        settings = load_settings()
        assert settings.redis_url.get_secret_value() == "redis://localhost:6379/0"
        assert settings.redis_max_connections == 20
        assert settings.sentry_dsn is None
        assert settings.sentry_traces_sample_rate == 0.1
        assert settings.environment == "development"
        assert settings.log_level == "INFO"
        assert settings.log_format == "console"

    def test_environment_and_case_are_normalised(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """ENVIRONMENT and LOG_LEVEL accept any case; WARN means WARNING."""
        monkeypatch.setenv("ENVIRONMENT", "Production")
        monkeypatch.setenv("LOG_LEVEL", "warn")
        settings = load_settings()
        assert settings.environment == "production"
        assert settings.log_level == "WARNING"
        assert settings.log_format == "json"

    def test_override_beats_environment_beats_env_file(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """Precedence: explicit override > environment > .env file > default."""
        env_file = tmp_path / "custom.env"
        env_file.write_text("REDIS_URL=redis://file:6379/0\nLOG_LEVEL=DEBUG\n")
        monkeypatch.setenv("REDIS_URL", "redis://env:6379/0")
        settings = load_settings(env_file)
        assert settings.redis_url.get_secret_value() == "redis://env:6379/0"
        assert settings.log_level == "DEBUG"
        settings = load_settings(env_file, redis_url="redis://cli:6379/0")
        assert settings.redis_url.get_secret_value() == "redis://cli:6379/0"

    def test_dot_env_in_the_working_directory_is_read(self, tmp_path: Path) -> None:
        """Without --env-file, ./.env is read when present."""
        (tmp_path / ".env").write_text("ENVIRONMENT=staging\n")
        assert load_settings().environment == "staging"


class TestValidation:
    @pytest.mark.parametrize(
        ("variable", "value", "expected"),
        [
            ("REDIS_URL", "http://localhost:6379", "REDIS_URL has 'http://'"),
            ("REDIS_URL", "localhost:6379", "REDIS_URL has"),
            ("REDIS_URL", "redis://localhost:99999/0", "REDIS_URL has an invalid port"),
            ("REDIS_URL", "redis://localhost:6379/abc", "REDIS_URL has a database"),
            ("REDIS_MAX_CONNECTIONS", "0", "REDIS_MAX_CONNECTIONS '0' is not accepted"),
            ("REDIS_MAX_CONNECTIONS", "many", "REDIS_MAX_CONNECTIONS 'many'"),
            ("SENTRY_TRACES_SAMPLE_RATE", "1.5", "SENTRY_TRACES_SAMPLE_RATE '1.5'"),
            ("SENTRY_TRACES_SAMPLE_RATE", "nan", "SENTRY_TRACES_SAMPLE_RATE 'nan'"),
            ("ENVIRONMENT", "prod", "ENVIRONMENT 'prod' is not accepted; expected one of"),
            ("LOG_LEVEL", "loud", "LOG_LEVEL 'LOUD'"),
            ("SENTRY_DSN", "not-a-dsn", "SENTRY_DSN is malformed"),
        ],
    )
    def test_each_bad_value_names_its_variable_and_what_is_accepted(
        self, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
    ) -> None:
        """One problem line per bad variable, naming it and what it accepts."""
        monkeypatch.setenv(variable, value)
        with pytest.raises(ConfigError) as caught:
            load_settings()
        assert len(caught.value.problems) == 1
        line = caught.value.problems[0]
        assert line.startswith(expected), line
        assert "expected" in line

    def test_several_bad_values_give_one_line_each(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Every bad variable is reported at once, not only the first."""
        monkeypatch.setenv("ENVIRONMENT", "qa")
        monkeypatch.setenv("REDIS_MAX_CONNECTIONS", "-1")
        with pytest.raises(ConfigError) as caught:
            load_settings()
        assert len(caught.value.problems) == 2

    def test_a_bad_secret_url_is_never_echoed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A malformed REDIS_URL or SENTRY_DSN carrying a secret is not repeated back."""
        monkeypatch.setenv("REDIS_URL", f"redis://:{SECRET}@host:notaport/0")
        monkeypatch.setenv("SENTRY_DSN", f"ftp://{SECRET}@sentry.example/1")
        with pytest.raises(ConfigError) as caught:
            load_settings()
        assert len(caught.value.problems) == 2
        assert SECRET not in str(caught.value.problems)

    def test_empty_sentry_dsn_means_disabled(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """SENTRY_DSN= (empty) disables Sentry instead of failing."""
        monkeypatch.setenv("SENTRY_DSN", "  ")
        assert load_settings().sentry_dsn is None

    def test_missing_env_file_is_an_error(self, tmp_path: Path) -> None:
        """--env-file naming a file that does not exist is reported, not ignored."""
        with pytest.raises(ConfigError, match="no such file"):
            load_settings(tmp_path / "absent.env")

    def test_unparseable_env_file_line_is_reported(self, tmp_path: Path) -> None:
        """A .env line that is not KEY=VALUE is named by its line number."""
        env_file = tmp_path / "bad.env"
        env_file.write_text("REDIS_URL=redis://localhost:6379/0\nthis is not a setting\n")
        with pytest.raises(ConfigError, match="line 2 is not KEY=VALUE"):
            load_settings(env_file)


class TestRedisUrlQueryOptions:
    """redis-py hands every REDIS_URL query option to the connection as a keyword argument, and
    the query wins over the caller's: only options cpa-ops hands on safely are accepted."""

    @pytest.mark.parametrize(
        "url",
        [
            "redis://h:6379/0?protocol=3&client_name=worker",
            f"redis://h:6379?db=2&username=app&password={SECRET}",
            "rediss://h:6380/0?ssl_ca_certs=/ca.pem&ssl_cert_reqs=required&ssl_check_hostname=No",
            f"rediss://h:6380/0?ssl_certfile=/c.pem&ssl_keyfile=/k.pem&ssl_password={SECRET}",
            "unix:///run/redis.sock?db=1",
            "redis://h:6379/0?blank=",  # blank values are skipped, by redis-py too
        ],
    )
    def test_options_handed_on_are_accepted(
        self, monkeypatch: pytest.MonkeyPatch, url: str
    ) -> None:
        monkeypatch.setenv("REDIS_URL", url)
        assert load_settings().redis_url.get_secret_value() == url

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("ssl_ca_certs=/ca.pem", "REDIS_URL has the TLS option ssl_ca_certs on redis://"),
            ("socket_timeout=60", "REDIS_URL sets socket_timeout, which cpa-ops sets itself"),
            ("max_connections=500", "REDIS_URL sets max_connections, which cpa-ops sets itself"),
            ("protocol=9", "REDIS_URL has protocol that is not one of 2, 3"),
            ("decode_responses=1", "REDIS_URL has a query option cpa-ops does not accept"),
            (f"{SECRET}=1", "REDIS_URL has a query option cpa-ops does not accept"),
        ],
    )
    def test_other_options_are_refused_by_name(
        self, monkeypatch: pytest.MonkeyPatch, query: str, expected: str
    ) -> None:
        """One line naming the option (an unknown one is not echoed: it may be a secret)."""
        monkeypatch.setenv("REDIS_URL", f"redis://:{SECRET}@h:6379/0?{query}")
        with pytest.raises(ConfigError) as caught:
            load_settings()
        (line,) = caught.value.problems
        assert line.startswith(expected), line
        assert SECRET not in line

    def test_tls_values_are_checked_as_redis_py_reads_them(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """ssl_cert_reqs is case-sensitive in redis-py; a misspelt boolean would read as true."""
        for query in ("ssl_cert_reqs=NONE", "ssl_check_hostname=flase"):
            monkeypatch.setenv("REDIS_URL", f"rediss://h:6380/0?{query}")
            with pytest.raises(ConfigError, match="is not one of"):
                load_settings()

    def test_every_accepted_option_is_a_keyword_redis_py_takes(self) -> None:
        """Guards against a redis-py upgrade renaming an option we hand on."""
        import inspect

        from redis.asyncio.connection import AbstractConnection, SSLConnection

        from cpa_ops.core import urls

        def keywords(cls: type) -> set[str]:
            return set(inspect.signature(cls.__init__).parameters)

        assert set(urls._URL_OPTIONS) <= keywords(AbstractConnection)
        assert set(urls._TLS_URL_OPTIONS) <= keywords(SSLConnection)


class TestMasking:
    @pytest.mark.parametrize(
        ("url", "masked"),
        [
            (f"redis://:{SECRET}@h:6379/0", "redis://:***@h:6379/0"),
            (f"redis://app:{SECRET}@h:6379/0", "redis://app:***@h:6379/0"),
            (f"rediss://{SECRET}@h:6380", "rediss://***@h:6380"),
            (f"redis://h:6379/0?password={SECRET}", "redis://h:6379/0?password=***"),
            (f"rediss://h:6380/0?ssl_password={SECRET}", "rediss://h:6380/0?ssl_password=***"),
            ("redis://h:6379/0", "redis://h:6379/0"),
            ("unix:///run/redis.sock", "unix:///run/redis.sock"),
        ],
    )
    def test_mask_url_hides_every_password_form(self, url: str, masked: str) -> None:
        """Userinfo and query passwords are replaced by ***; the rest is kept."""
        assert mask_url(url) == masked

    def test_mask_dsn_keeps_host_and_project_only(self) -> None:
        """A DSN shows as scheme://***@host/project."""
        assert (
            mask_dsn(f"https://{SECRET}@o1.ingest.example/42") == "https://***@o1.ingest.example/42"
        )

    def test_settings_repr_never_shows_secrets(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """repr() of the settings (as in a stray log line) masks both secrets."""
        monkeypatch.setenv("REDIS_URL", f"redis://:{SECRET}@h:6379/0")
        monkeypatch.setenv("SENTRY_DSN", f"https://{SECRET}@sentry.example/1")
        settings = load_settings()
        assert SECRET not in repr(settings)
        assert SECRET not in settings.redis_url_masked
        assert settings.sentry_host == "sentry.example"


class TestIssue12Validation:
    @pytest.mark.parametrize(
        "url",
        [
            "redis://:Qv9#Jw7@h:6379/0",
            "redis://Qv9?Jw7@h",
            "redis://user:1234/Qv9@h",
            "redis://:Qv9@Jw7@h",
            "unix://:Qv9Jw7@",
            "redis://a..b:6379",
            "redis://[zz::1]:6379",
        ],
    )
    def test_urls_hiding_a_password_or_a_bad_host_are_one_line(
        self, url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("REDIS_URL", url)
        with pytest.raises(ConfigError) as caught:
            load_settings()
        [line] = caught.value.problems
        assert line.startswith("REDIS_URL ") and "Qv9" not in line and "Jw7" not in line

    @pytest.mark.parametrize("entry", ["[::1", "[zz::1]:26379", "::1:26379", "u:pw@h:1"])
    def test_bad_sentinel_entries_are_named_by_position(
        self, entry: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("REDIS_SENTINELS", f"s1:26379,{entry}")
        with pytest.raises(ConfigError) as caught:
            load_settings()
        [line] = caught.value.problems
        assert line.startswith("REDIS_SENTINELS entry 2 (") and "pw" not in line

    @pytest.mark.parametrize(
        "dsn", ["https://k@h/abc", "https://k@h/1 2", "https://k@h/" + "1" * 99]
    )
    def test_dsns_the_sdk_rejects_fail_at_load(self, dsn: str) -> None:
        with pytest.raises(ConfigError, match="SENTRY_DSN is malformed"):
            load_settings(sentry_dsn=dsn)

    def test_env_file_that_is_a_fifo_or_too_large(self, tmp_path: Path) -> None:
        import os

        fifo = tmp_path / "fifo.env"
        os.mkfifo(fifo)
        with pytest.raises(ConfigError, match="is a FIFO, expected a regular file"):
            load_settings(fifo)
        big = tmp_path / "big.env"
        big.write_bytes(b"#" * ((1 << 20) + 1))
        with pytest.raises(ConfigError, match="larger than 1 MiB"):
            load_settings(big)
        with pytest.raises(ConfigError, match="a device"):
            load_settings("/dev/zero")

    def test_a_dot_env_directory_is_skipped(self, tmp_path: Path) -> None:
        (tmp_path / ".env").mkdir()  # a virtualenv named .env
        assert load_settings().environment == "development"


class TestSentinelCredentials:
    def test_the_password_is_registered_the_moment_settings_load(self) -> None:
        """REDIS_SENTINEL_PASSWORD is a known secret by value before any check runs (even when
        another setting is invalid), and never in repr or the target's text."""
        from cpa_ops.core.known_secrets import forget_secrets, registered_secrets, scrub_text

        forget_secrets()
        try:
            with pytest.raises(ConfigError):
                load_settings(redis_sentinel_password=SECRET, environment="nope")
            assert SECRET in registered_secrets()
            settings = load_settings(
                redis_mode="sentinel",
                redis_sentinels="10.0.0.5:26379",
                redis_sentinel_master="mymaster",
                redis_sentinel_password=SECRET,
                redis_sentinel_username="sentinel-user",
            )
            assert scrub_text(f"AUTH {SECRET}") == "AUTH ***"
            target = settings.redis_target
            for shown in (repr(settings), repr(target), target.description, target.masked):
                assert SECRET not in shown
            assert SECRET in target.secrets
        finally:
            forget_secrets()

    def test_they_go_to_the_sentinels_only(self) -> None:
        """The sentinel's URL carries the sentinels' credentials (percent-encoded), a data
        node's those of REDIS_URL."""
        settings = load_settings(
            redis_mode="sentinel",
            redis_sentinels="10.0.0.5:26379",
            redis_sentinel_master="mymaster",
            redis_url="redis://:data-pw@unused/0",
            redis_sentinel_password="p@ss/w rd",
            redis_sentinel_username="sentinel-user",
        )
        target = settings.redis_target
        sentinel = target.for_sentinel("10.0.0.5:26379")
        assert sentinel.url == "redis://sentinel-user:p%40ss%2Fw%20rd@10.0.0.5:26379"
        assert sentinel.connection_options()["password"] == "p@ss/w rd"
        assert sentinel.connection_options()["username"] == "sentinel-user"
        assert target.for_node("10.0.0.6:6379").connection_options()["password"] == "data-pw"
        assert target.sentinel_credentials() == {
            "password": "p@ss/w rd",
            "username": "sentinel-user",
        }

    def test_unset_or_empty_sends_no_password(self) -> None:
        settings = load_settings(redis_sentinel_password="", redis_sentinel_username="")
        assert settings.redis_sentinel_password is None
        assert settings.redis_sentinel_username is None
        assert settings.redis_target.sentinel_credentials() == {}
        assert "@" not in settings.redis_target.for_sentinel("10.0.0.5:26379").url

    def test_a_username_without_a_password_is_one_line(self) -> None:
        with pytest.raises(ConfigError) as caught:
            load_settings(redis_sentinel_username="sentinel-user")
        (line,) = caught.value.problems
        assert line.startswith("REDIS_SENTINEL_USERNAME is set without REDIS_SENTINEL_PASSWORD")
