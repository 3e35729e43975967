"""core/known_secrets: registered secrets replaced by value in every spelling, at every way out.

The library paths talk to real things: a redis-server with HELLO renamed away (redis-py 8's
handshake error then echoes the password) and the test Sentry ingest server.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest

from cpa_ops.core import known_secrets
from cpa_ops.core.known_secrets import (
    MASK,
    forget_secrets,
    register_secret,
    registered_secrets,
    scrub_json_line,
    scrub_text,
    scrub_value,
)
from cpa_ops.core.settings import ConfigError, load_settings
from cpa_ops.core.target import RedisTarget
from tests.servers.redis_faults import RedisServer
from tests.servers.redis_fixtures import REDIS_PASSWORD
from tests.servers.sentry_ingest import PUBLIC_KEY, SentryIngest

SECRET = "Pa$$:w/rd#?é 42"


@pytest.fixture(autouse=True)
def _no_secrets() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


def spelled(secret: str) -> list[str]:
    """The spellings a server, a library or a renderer may give ``secret``."""
    raw = secret.encode()
    return [
        secret,
        secret.upper(),
        secret.lower(),
        quote(secret, safe=""),
        quote(secret, safe="").lower(),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        repr(raw)[2:-1],
        json.dumps(repr(raw)[2:-1])[1:-1],  # a bytes repr inside a JSON line
    ]


class TestSpellings:
    def test_nothing_registered_costs_nothing(self) -> None:
        line = '{"message":"x"}\n'
        assert scrub_text(line) is line and scrub_json_line(line) is line
        value = {"a": [SECRET]}
        assert scrub_value(value) is value

    @pytest.mark.parametrize("secret", [SECRET, "s3cr3t-PW-xyz", "ключ-пароль", "a'b\"c\\d"])
    def test_every_spelling_is_replaced(self, secret: str) -> None:
        register_secret(secret)
        for spelling in spelled(secret):
            text = f"error: <{spelling}> end"
            assert scrub_text(text) == f"error: <{MASK}> end", spelling

    def test_registered_percent_encoded_is_known_decoded(self) -> None:
        register_secret("p%40ss%2Fw0rd")
        assert scrub_text("AUTH default p@ss/w0rd") == f"AUTH default {MASK}"
        assert scrub_text("url :p%40ss%2Fw0rd@") == f"url :{MASK}@"

    def test_cr_lf_as_spaces_and_visible_controls(self) -> None:
        register_secret("line1\r\nline2\x1b")
        assert scrub_text("'line1  line2\x1b'") == f"'{MASK}'"
        assert scrub_text("'line1\\r\\nline2\\x1b'") == f"'{MASK}'"

    def test_a_short_secret_only_as_a_whole_token(self) -> None:
        register_secret("pw")
        assert scrub_text("AUTH default pw") == f"AUTH default {MASK}"
        assert scrub_text("'pw'") == f"'{MASK}'"
        assert scrub_text("PW") == MASK
        assert scrub_text("pwd upwards") == "pwd upwards"

    @pytest.mark.parametrize("secret", [" ", "  ", "    ", "\t", "\n", ",", ", ", '"', ":", "+"])
    def test_white_space_or_punctuation_never_takes_json_apart(self, secret: str) -> None:
        """A secret of white space only is not replaced at all, a short one of punctuation only
        between white space: a JSON document stays one (REDIS_SENTINEL_PASSWORD=' ' turned
        config check's JSON into '{"valid": false,***"problems":***[')."""
        register_secret(secret)
        document = json.dumps({"valid": False, "problems": ["a, b: c", 'say "x"']}, indent=2)
        assert json.loads(scrub_text(document)) == json.loads(document)
        assert json.loads(scrub_text(json.dumps({"k": [1, 2]}))) == {"k": [1, 2]}

    def test_a_short_punctuation_secret_alone_still_goes(self) -> None:
        register_secret("!!")
        assert scrub_text("password !! and a!!b") == "password *** and a!!b"

    def test_a_long_secret_cut_short_still_goes(self) -> None:
        secret = "x7" * 100
        register_secret(secret)
        echoed = f"with args beginning with: '3' 'AUTH' 'default' '{secret[:107]}'"
        assert secret[:24] not in scrub_text(echoed)
        assert scrub_text(echoed).endswith(f"'{MASK}'")
        assert scrub_text(secret[:20]) == secret[:20]  # under 24 characters: not a secret

    def test_json_lines_stay_valid(self) -> None:
        for secret in ('":"', '","', "n", '\\"', "}{", '1","b":"2'):
            forget_secrets()
            register_secret(secret)
            line = json.dumps({"a": "1", "b": "2", "m": f"x {secret} y\n"}) + "\n"
            scrubbed = scrub_json_line(line)
            assert json.loads(scrubbed)["m"] == f"x {MASK} y\n", secret
            assert scrubbed.endswith("\n")

    def test_an_undecodable_byte_in_a_secret(self) -> None:
        """A password from the environment with a byte that is not UTF-8 (a lone surrogate):
        registered without error, masked as written, as the byte percent-encoded, and as
        visible_controls writes it out."""
        secret = "pw\udcffsecret-tail"
        register_secret(secret)
        for spelling in (secret, "pw%FFsecret-tail", "pw\\udcffsecret-tail"):
            assert scrub_text(f"x {spelling} y") == f"x {MASK} y", spelling

    def test_structures_keys_and_bytes(self) -> None:
        register_secret(SECRET)
        value = {SECRET: [SECRET.encode(), (f"a {SECRET}",)], "k": {SECRET}}
        assert scrub_value(value) == {MASK: [MASK, (f"a {MASK}",)], "k": {MASK}}


class TestRegistration:
    def test_settings_register_every_secret_they_hold(self) -> None:
        load_settings(
            redis_mode="cluster",
            redis_url="redis://:seed1pw@h:1,redis://u:seed2%2Fpw@h:2,redis://lone-user-pw@h:3,"
            "redis://h:4/0?password=query-pw",
            sentry_dsn="https://0123456789abcdef0123456789abcdef:dsnsecret@o1.example/7",
        )
        found = set(registered_secrets())
        assert {"seed1pw", "seed2%2Fpw", "seed2/pw", "lone-user-pw", "query-pw"} <= found
        assert {"0123456789abcdef0123456789abcdef", "dsnsecret"} <= found
        assert "u" not in found  # a user name with a password is not a secret

    def test_ssl_password_and_a_broken_url_are_registered_too(self) -> None:
        load_settings(redis_url="rediss://h:1/0?ssl_password=key-pass-9")
        with pytest.raises(ConfigError):
            load_settings(redis_url="redis://:pa#ss/w@h:1/0", redis_sentinels="u:sentpw@h:1")
        assert {"key-pass-9", "pa#ss/w", "sentpw"} <= set(registered_secrets())

    def test_the_target_redacts_through_the_registry(self) -> None:
        target = RedisTarget.from_url("redis://:p%40ss@h:1/0")
        assert target.without_secrets("AUTH default P@SS") == f"AUTH default {MASK}"
        assert "p@ss" in registered_secrets()
        assert known_secrets.scrub_text("p%40ss") == MASK  # one redaction for all


# ---------------------------------------------------------------------------------------------
# The library as a service calls it: a redis-py error from a server with HELLO renamed


def hello_error(server: RedisServer, url: str) -> Exception:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        return exc
    finally:
        client.close()
    raise AssertionError("HELLO answered")


URLS = {
    "as written": f"redis://:{REDIS_PASSWORD}@127.0.0.1:{{port}}/0",
    "percent-encoded": "redis://:p%40ss%2Fw0rd%3A1@127.0.0.1:{port}/0",
    "query": "redis://127.0.0.1:{port}/0?password=q%2Fpw-77x",
    "username slot": "redis://lone%40pw-99@127.0.0.1:{port}/0",
}
PASSWORDS = {
    "as written": REDIS_PASSWORD,
    "percent-encoded": "p@ss/w0rd:1",
    "query": "q/pw-77x",
    "username slot": "lone@pw-99",
}


@pytest.mark.parametrize("placement", list(URLS))
@pytest.mark.parametrize("log_format", ["json", "console"])
def test_a_service_log_line_holds_no_password(
    redis_hello_renamed: RedisServer, placement: str, log_format: str
) -> None:
    from cpa_ops.core.logging import configure_logging, get_logger

    url = URLS[placement].format(port=redis_hello_renamed.port)
    # development: the server's echo must reach the line for the known-secret layer to be seen
    # at work; production withholds exception messages and free-text values before it
    settings = load_settings(redis_url=url, environment="development")
    error = hello_error(redis_hello_renamed, settings.redis_target.url)
    password = PASSWORDS[placement]
    assert password in str(error) and "HELLO" in str(error)  # the leak is real
    stream = io.StringIO()
    configure_logging(settings, stream=stream, log_format=log_format)  # type: ignore[arg-type]
    try:
        try:
            raise error
        except Exception:
            get_logger("svc").exception("redis failed", detail=str(error), raw=repr(error))
            logging.getLogger("svc.stdlib").exception("stdlib: %s", error)
    finally:
        logging.getLogger().handlers.clear()
    text = stream.getvalue()
    assert "HELLO" in text and MASK in text
    for spelling in spelled(password):
        assert spelling not in text, spelling
    if log_format == "json":
        for line in text.splitlines():
            json.loads(line)


def test_a_sentry_envelope_holds_no_password(
    redis_hello_renamed: RedisServer, sentry_ingest: SentryIngest
) -> None:
    import sentry_sdk

    from cpa_ops.core.sentry import init_sentry

    url = f"redis://:{quote('p@ss/w0rd:1', safe='')}@127.0.0.1:{redis_hello_renamed.port}/0"
    settings = load_settings(redis_url=url, sentry_dsn=sentry_ingest.dsn)
    error = hello_error(redis_hello_renamed, url)
    assert init_sentry(settings, default_integrations=False, auto_enabling_integrations=False)
    try:
        sentry_sdk.add_breadcrumb(message=f"before: {error}")
        try:
            raise error
        except Exception as exc:
            sentry_sdk.capture_exception(exc)
        sentry_sdk.capture_message(f"message: {error!r}")
        sentry_sdk.flush(5)
    finally:
        sentry_sdk.get_global_scope().set_client(None)
    received = sentry_ingest.wait_for(2)
    for envelope in received:
        body = envelope.body.decode("utf-8", "replace")
        for spelling in spelled("p@ss/w0rd:1"):
            assert spelling not in body, spelling
        assert PUBLIC_KEY not in body
    assert any("HELLO" in envelope.text for envelope in received)
