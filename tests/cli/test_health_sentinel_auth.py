"""``cpa-ops health --mode sentinel`` (and ``ping``) against password-protected sentinels,
through the installed console script: REDIS_SENTINEL_PASSWORD goes to the sentinels, REDIS_URL's
password to the data nodes; a missing or refused sentinel password is ``sentinel_auth`` with a
hint naming REDIS_SENTINEL_PASSWORD; no password is ever shown."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_health_topology import VERDICT_TIMEOUT, checks_of
from tests.conftest import Ran, clean_env, run_cpa_ops
from tests.servers.redis_fixtures import DATA_PASSWORD, SENTINEL_PASSWORD
from tests.servers.redis_topology import MASTER_NAME, SentinelSetup

pytestmark = pytest.mark.timeout(90)

#: a password no server of the set-ups takes (not a word: masking "wrong" would eat WRONGPASS)
NOT_IT = "not-it-Zq81x"


def health(setup: SentinelSetup, *args: str, **env: str) -> Ran:
    """``health --mode sentinel`` with ``env`` as the settings; REDIS_URL carries the data
    nodes' password unless ``env`` says otherwise."""
    settings = {
        "REDIS_MODE": "sentinel",
        "REDIS_SENTINELS": setup.sentinel_addresses,
        "REDIS_SENTINEL_MASTER": MASTER_NAME,
        "REDIS_URL": f"redis://:{setup.data_password}@unused/0",
        **env,
    }
    return run_cpa_ops(
        "health", "--timeout", str(VERDICT_TIMEOUT), *args, env=clean_env(**settings)
    )


def assert_no_password_shown(ran: Ran, *passwords: str) -> None:
    both = ran.stdout + ran.stderr
    for password in (SENTINEL_PASSWORD, DATA_PASSWORD, NOT_IT, *passwords):
        assert password not in both, f"{password} shown"


def assert_sentinel_auth(ran: Ran, said: str) -> None:
    """Exit 1; redis:master and every redis:sentinel are ``sentinel_auth``, ``said`` in their
    output, the hint naming REDIS_SENTINEL_PASSWORD."""
    assert ran.returncode == 1, ran.stdout + ran.stderr
    document = json.loads(ran.stdout)
    assert document["status"] == "fail"
    checks = checks_of(ran)
    (master,) = checks["redis:master"]
    assert master["reason"] == "sentinel_auth", master
    assert "3 of 3 sentinels refused our credentials" in master["output"]
    for check in [master, *checks["redis:sentinel"]]:
        assert check["reason"] == "sentinel_auth", check
        assert said in check["output"], check
        assert "REDIS_SENTINEL_PASSWORD" in check["hint"]
    assert len(checks["redis:sentinel"]) == 3
    assert "3 refused our credentials" in checks["redis:quorum"][0]["output"]
    assert_no_password_shown(ran)


class TestPasswordProtectedSentinels:
    def test_the_sentinel_password_passes(
        self, redis_sentinels_with_passwords_per_module: SentinelSetup
    ) -> None:
        """REDIS_SENTINEL_PASSWORD to the sentinels, REDIS_URL's password to the master and
        replica: every check passes, exit 0."""
        setup = redis_sentinels_with_passwords_per_module
        ran = health(setup, "--format", "json", REDIS_SENTINEL_PASSWORD=SENTINEL_PASSWORD)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        checks = checks_of(ran)
        assert json.loads(ran.stdout)["status"] == "pass", ran.stdout
        assert [c["status"] for c in checks["redis:sentinel"]] == ["pass"] * 3
        assert checks["redis:master"][0]["componentId"] == setup.master_as_sentinels_see_it()
        assert all(c["status"] == "pass" for c in checks["redis:ping"])
        assert_no_password_shown(ran)

    def test_the_text_verdict_with_write(
        self, redis_sentinels_with_passwords_per_module: SentinelSetup
    ) -> None:
        """--write through the master the password-protected sentinels name: exit 0."""
        setup = redis_sentinels_with_passwords_per_module
        ran = health(setup, "--write", REDIS_SENTINEL_PASSWORD=SENTINEL_PASSWORD)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert "PASS  redis:write" in ran.stdout
        assert ran.stdout.rstrip().endswith("status: pass")
        assert_no_password_shown(ran)

    def test_no_sentinel_password_is_sentinel_auth(
        self, redis_sentinels_with_passwords_per_module: SentinelSetup
    ) -> None:
        """The sentinels answer NOAUTH: sentinel_auth, saying no password was sent."""
        ran = health(redis_sentinels_with_passwords_per_module, "--format", "json")
        assert_sentinel_auth(ran, "REDIS_SENTINEL_PASSWORD is not set")

    def test_no_sentinel_password_in_text_names_the_setting(
        self, redis_sentinels_with_passwords_per_module: SentinelSetup
    ) -> None:
        """Text output: the failing line and stderr's summary name sentinel_auth and the fix."""
        ran = health(redis_sentinels_with_passwords_per_module)
        assert ran.returncode == 1, ran.stdout + ran.stderr
        assert "FAIL  redis:master" in ran.stdout
        assert "[sentinel_auth]" in ran.stdout
        last = ran.stderr.strip().splitlines()[-1]
        assert last.startswith("cpa-ops health: redis:master failed [sentinel_auth]: "), last
        assert "REDIS_SENTINEL_PASSWORD" in last
        assert "REDIS_URL" in last  # ... and that REDIS_URL's password is not the one
        assert_no_password_shown(ran)

    def test_a_wrong_sentinel_password_is_sentinel_auth(
        self, redis_sentinels_with_passwords_per_module: SentinelSetup
    ) -> None:
        """The sentinels answer WRONGPASS: sentinel_auth, saying ours was refused."""
        ran = health(
            redis_sentinels_with_passwords_per_module,
            "--format",
            "json",
            REDIS_SENTINEL_PASSWORD=NOT_IT,
        )
        assert_sentinel_auth(ran, "REDIS_SENTINEL_PASSWORD refused")

    def test_a_wrong_sentinel_user_is_sentinel_auth(
        self, redis_sentinels_with_passwords_per_module: SentinelSetup
    ) -> None:
        """The right password as a user the sentinels do not have: refused, the user named."""
        ran = health(
            redis_sentinels_with_passwords_per_module,
            "--format",
            "json",
            REDIS_SENTINEL_PASSWORD=SENTINEL_PASSWORD,
            REDIS_SENTINEL_USERNAME="nobody-here",
        )
        assert_sentinel_auth(ran, "REDIS_SENTINEL_PASSWORD of user nobody-here refused")

    # only where the two passwords differ: with one for all there is nothing to swap
    @pytest.mark.parametrize(
        "redis_sentinels_with_passwords_per_module", ["own-passwords"], indirect=True
    )
    def test_the_passwords_swapped_fail_at_the_sentinels(
        self, redis_sentinels_with_passwords_per_module: SentinelSetup
    ) -> None:
        """The data nodes' password given as the sentinels' (and the other way round): the
        sentinels refuse it, sentinel_auth."""
        setup = redis_sentinels_with_passwords_per_module
        assert setup.data_password == DATA_PASSWORD != SENTINEL_PASSWORD
        ran = health(
            setup,
            "--format",
            "json",
            REDIS_URL=f"redis://:{SENTINEL_PASSWORD}@unused/0",
            REDIS_SENTINEL_PASSWORD=DATA_PASSWORD,
        )
        assert_sentinel_auth(ran, "REDIS_SENTINEL_PASSWORD refused")

    def test_the_master_refusing_redis_url_is_auth(
        self, redis_sentinels_with_passwords_per_module: SentinelSetup
    ) -> None:
        """The sentinels let us in; REDIS_URL has no password for the master: its redis:ping is
        ``auth`` with REDIS_URL's hint, the sentinels pass."""
        setup = redis_sentinels_with_passwords_per_module
        ran = health(
            setup,
            "--format",
            "json",
            REDIS_URL="redis://unused/0",
            REDIS_SENTINEL_PASSWORD=SENTINEL_PASSWORD,
        )
        assert ran.returncode == 1, ran.stdout + ran.stderr
        checks = checks_of(ran)
        assert [c["status"] for c in checks["redis:sentinel"]] == ["pass"] * 3
        master_ping = next(
            c
            for c in checks["redis:ping"]
            if c["componentId"] == setup.master_as_sentinels_see_it()
        )
        assert master_ping["reason"] == "auth", master_ping
        assert "REDIS_URL" in master_ping["hint"]
        assert "REDIS_SENTINEL_PASSWORD" not in master_ping["hint"]
        assert_no_password_shown(ran)

    def test_ping_through_password_protected_sentinels(
        self, redis_sentinels_with_passwords_per_module: SentinelSetup
    ) -> None:
        """``ping --mode sentinel`` finds the master through the sentinels' password."""
        setup = redis_sentinels_with_passwords_per_module
        settings = {
            "REDIS_MODE": "sentinel",
            "REDIS_SENTINELS": setup.sentinel_addresses,
            "REDIS_SENTINEL_MASTER": MASTER_NAME,
            "REDIS_URL": f"redis://:{setup.data_password}@unused/0",
            "REDIS_SENTINEL_PASSWORD": SENTINEL_PASSWORD,
        }
        ran = run_cpa_ops(
            "ping", "-c", "2", "-i", "0.1", "--format", "json", "--timeout", str(VERDICT_TIMEOUT),
            env=clean_env(**settings),
        )  # fmt: skip
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert json.loads(ran.stdout)["ok"] == 2
        assert_no_password_shown(ran)


def test_a_password_for_sentinels_without_one_passes(
    redis_sentinels_per_module: SentinelSetup,
) -> None:
    """REDIS_SENTINEL_PASSWORD sent to sentinels without requirepass: their default user takes
    any password (redis-py authenticates as ``default``), so the password can be set before the
    sentinels' requirepass is turned on."""
    ran = health(
        redis_sentinels_per_module,
        "--format",
        "json",
        REDIS_URL="redis://unused/0",
        REDIS_SENTINEL_PASSWORD=NOT_IT,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert [c["status"] for c in checks_of(ran)["redis:sentinel"]] == ["pass"] * 3
    assert_no_password_shown(ran)
