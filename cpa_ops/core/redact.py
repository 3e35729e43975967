"""The one redaction of client PII and secrets, shared by logging and Sentry scrubbing.

Two rules, applied by :func:`redact` to any structure:

* **Sensitive keys.** A value under a key that names PII or a secret (``ssn``, ``client-ssn``,
  ``accountNumber``, ``X-Api-Key``, ``Authorization``, ``sentry_dsn``, ...) becomes
  ``[REDACTED:<kind>]``, whatever it is (a nested dict or list too). Keys are compared by their
  words, case- and separator-insensitively, and the key's *last* words decide: ``client_ssn`` and
  ``db_password`` are sensitive, ``password_reset_required``, ``token_count`` and ``ssn_last4``
  are not. Run-together keys (``clientssn``) match on names of 5+ letters and ssn, dsn, itin.
  ``None`` and booleans under a sensitive key are kept: they tell whether a value exists, not
  what it is.
  ``client_id``, ``task_id`` and ``agent`` are opaque correlation ids, not PII, and are kept.
* **Sensitive patterns.** Every string anywhere (values and dict keys) goes through
  :func:`redact_text`, which replaces:

  - ``ssn``: ``123-45-6789``, ``123 45 6789``; 9 bare digits only after a label
    (``SSN 123456789``, ``social security number: ...``), never unlabelled 9-digit runs.
  - ``tin``: 9 bare digits after ``TIN``, ``ITIN``, ``tax id``.
  - ``ein``: ``12-3456789``; 9 bare digits after ``EIN``, ``FEIN``.
  - ``email``: ``local@domain.tld``.
  - ``phone``: US numbers written with separators: ``(555) 123-4567``, ``555-123-4567``,
    ``555.123.4567``, ``555 123 4567``, ``+1 555 123 4567``, ``1-555-123-4567``, and
    ``+15551234567``; not bare 10-digit runs (epoch seconds) nor 7-digit local numbers.
  - ``card_number``: 13-19 digits starting 2-6 (the card networks; epoch milliseconds start
    with 1) that pass Luhn: contiguous, in groups of 4 (the last 1-4 digits) split by one
    kind of space or dash, or Amex 4-6-5.
  - ``password``: the password (or lone userinfo) in ``redis://``, ``rediss://``, ``unix://``
    URLs, the password of any ``scheme://user:password@``; ``password=...``, ``pwd: ...``.
  - ``dsn_key``: the key of a Sentry DSN ``https://<key>@host/1`` (any http(s) URL with a
    lone userinfo, and ``key:secret`` of old DSNs).
  - ``secret``, ``token``, ``api_key``: ``secret=...``, ``token: ...``, ``api_key=...``,
    ``Bearer <token>``.

  A number is only matched whole: not inside a longer run of digits or letters, not as a
  segment of a UUID or a dashed id (``abc-123-45-6789``; a label still counts:
  ``SSN-123-45-6789``), not after ``<digit>.``. So ids
  (``task-123``, UUIDs), amounts (``1234.56``), dates (``2026-11-28``), ISO timestamps,
  ports and IP addresses (loopback or not) are left alone.

:func:`redact` returns a new structure and never mutates its input; it recurses into dicts,
lists, tuples, sets and frozensets (subclasses come back as the plain type), survives cycles
(``<cycle>``) and deep nesting (``<too deep>``), keeps non-str keys, decodes bytes that hold a
pattern, redacts integers that are card numbers, and leaves other objects alone (a renderer
that falls back to ``repr`` must pass that text through :func:`redact_text`). It never raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = [
    "MARKER_PREFIX",
    "REDACTED_TEXT_CACHE",
    "marker",
    "redact",
    "redact_text",
    "sensitive_key_kind",
]

MARKER_PREFIX: Final = "[REDACTED:"
CYCLE: Final = "<cycle>"
TOO_DEEP: Final = "<too deep>"
_MAX_DEPTH: Final = 64


def marker(kind: str) -> str:
    """The text that replaces a redacted value of ``kind``: ``[REDACTED:<kind>]``."""
    return f"{MARKER_PREFIX}{kind}]"


# ---------------------------------------------------------------------------------------------
# Sensitive keys

# Normalised key words (joined, lower-case, no separators) -> kind.
_SENSITIVE_KEYS: Final[dict[str, str]] = {
    **dict.fromkeys(
        ("ssn", "socialsecurity", "socialsecuritynumber", "socialsecurityno", "ssnumber"), "ssn"
    ),
    **dict.fromkeys(
        ("tin", "itin", "taxid", "taxpayerid", "taxidnumber", "taxpayeridentificationnumber"),
        "tin",
    ),
    **dict.fromkeys(("ein", "fein", "employeridentificationnumber"), "ein"),
    **dict.fromkeys(("dob", "dateofbirth", "birthdate", "birthday"), "dob"),
    **dict.fromkeys(("email", "emailaddress", "mail"), "email"),
    **dict.fromkeys(
        ("phone", "phonenumber", "telephone", "mobile", "mobilenumber", "cellphone", "fax"),
        "phone",
    ),
    **dict.fromkeys(
        (
            "accountnumber",
            "accountno",
            "acctnumber",
            "acctno",
            "bankaccount",
            "bankaccountnumber",
            "iban",
        ),
        "account_number",
    ),
    **dict.fromkeys(("routingnumber", "routingno", "abanumber", "aba"), "routing_number"),
    **dict.fromkeys(
        ("cardnumber", "creditcard", "creditcardnumber", "ccnumber", "pan", "cvv", "cvc"),
        "card_number",
    ),
    **dict.fromkeys(("password", "passwd", "pwd", "passphrase", "pin"), "password"),
    **dict.fromkeys(
        ("secret", "clientsecret", "privatekey", "secretkey", "credentials", "credential"),
        "secret",
    ),
    **dict.fromkeys(
        ("token", "accesstoken", "refreshtoken", "idtoken", "sessiontoken", "authtoken", "jwt"),
        "token",
    ),
    **dict.fromkeys(("apikey", "accesskey", "xapikey"), "api_key"),
    **dict.fromkeys(("authorization", "proxyauthorization", "auth"), "authorization"),
    **dict.fromkeys(("cookie", "setcookie", "cookies"), "cookie"),
    **dict.fromkeys(("dsn", "sentrydsn"), "dsn"),
}
# Names that also count at the end of a glued-together key; shorter ones (tin, ein, pan, pin,
# mail...) end too many ordinary words (protein, span, gmail) to match without a separator.
_GLUED_SUFFIXES: Final = tuple(
    (name, kind)
    for name, kind in _SENSITIVE_KEYS.items()
    if len(name) >= 5 or name in ("ssn", "dsn", "itin")
)
# Words of a key: camelCase humps, ACRONYMS, digits; every other character separates.
_KEY_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_KEY_CACHE: dict[str, str | None] = {}
_KEY_CACHE_MAX: Final = 4096


def sensitive_key_kind(key: object) -> str | None:
    """The kind of PII or secret a dict key names (``"ssn"``, ``"api_key"``...), else None.

    Matching is by words, ignoring case and separators; the key's trailing words decide
    (``client-ssn`` -> ``ssn``, ``X-Api-Key`` -> ``api_key``, ``email_2`` -> ``email``).
    Bytes keys are decoded; other non-str keys are never sensitive.
    """
    if type(key) is not str:
        if isinstance(key, bytes | bytearray):
            key = bytes(key).decode("utf-8", "replace")
        elif isinstance(key, str):
            key = str(key)
        else:
            return None
    if key in _KEY_CACHE:
        return _KEY_CACHE[key]
    kind = _key_kind_uncached(key)
    if len(_KEY_CACHE) >= _KEY_CACHE_MAX:
        _KEY_CACHE.clear()
    _KEY_CACHE[key] = kind
    return kind


def _key_kind_uncached(key: str) -> str | None:
    words = [w.lower() for w in _KEY_WORD.findall(key[:200])]
    while words and words[-1].isdigit():  # email_2, password1
        words.pop()
    joined = ""
    for word in reversed(words):
        joined = word + joined
        kind = _SENSITIVE_KEYS.get(joined)
        if kind is not None:
            return kind
    for name, kind in _GLUED_SUFFIXES:  # clientssn, dbpassword: words run together
        if joined.endswith(name):
            return kind
    return None


# ---------------------------------------------------------------------------------------------
# Sensitive patterns in text

# A number starts here only if not glued to a word, a dashed id/UUID segment or a decimal.
# After a written-out escape (\n, \t... as in a repr or JSON) a number starts too.
_NUM_START = r"(?:(?<=\\[nrtbf])|(?<![\w])(?<![0-9A-Za-z]-)(?<!\d\.))"
_NUM_END = r"(?![\w])(?!-[0-9A-Za-z])(?!\.\d)"

_LABEL_KINDS: Final[dict[str, str]] = {
    "ssn": "ssn",
    "social security": "ssn",
    "tin": "tin",
    "itin": "tin",
    "tax id": "tin",
    "taxpayer id": "tin",
    "ein": "ein",
    "fein": "ein",
}
_SECRET_LABEL_KINDS: Final[dict[str, str]] = {
    "password": "password",
    "passwd": "password",
    "pwd": "password",
    "secret": "secret",
    "client_secret": "secret",
    "token": "token",
    "access_token": "token",
    "refresh_token": "token",
    "api_key": "api_key",
    "apikey": "api_key",
    "api-key": "api_key",
}

# Passes, each run only when its cheap gate passes (see _redact_text); leftmost match wins.
# 1. around an "@": the password (or a DSN key) in scheme://userinfo@, and email addresses
_AT_PATTERN = re.compile(
    r"(?P<url>(?P<url_scheme>\b[A-Za-z][A-Za-z0-9+.-]{0,20})://"
    r"(?P<url_userinfo>[^\s/?#\"'<>\\]{1,256})@)"
    r"|(?<!\\)(?P<email>[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}\b)"
)
# 2. labelled secrets: password=..., token: ..., api_key=..., Bearer ...
_SECRET_PATTERN = re.compile(
    r"(?P<secret>(?P<secret_label>(?:(?<=\\[nrtbf])|\b)(?i:password|passwd|pwd|client_secret|secret"
    r"|access_token|refresh_token|token|api[_-]?key))"
    r"(?P<secret_gap>(?:\\?\")?\s*[=:]\s*(?:\\?\")?)(?P<secret_value>[^\s\"',;&}\\]{1,512}))"
    r"|(?P<bearer>(?P<bearer_label>(?i:\bbearer\s+))(?P<bearer_value>[A-Za-z0-9._~+/=-]{8,}))"
)
# Pass 2 runs only on text holding "=", ":" or "bearer", and pass, pwd, secret, token or key.
# 3. numbers. Searching these patterns over a whole string is slow in sre (they start with
# lookbehinds), so they are tried only where they can start: at a label word found with
# str.find, and inside runs of digits and separators found by a pattern sre scans quickly.
_LABEL_PATTERN = re.compile(
    r"(?P<labelled>(?P<label>(?:(?<=\\[nrtbf])|\b)(?i:ssn|social\s+security"
    r"(?:\s+(?:number|no\.?))?|i?tin|f?ein|tax\s?id|taxpayer\s+id))"
    r"(?P<label_gap>(?:\s*(?:number|no\.?|\#))?\s*(?:is\s+|[:=#-]\s*)?[\"']?)"
    r"(?P<label_digits>\d{9}|\d{3}-\d{2}-\d{4}|\d{2}-\d{7})" + _NUM_END + ")"
)
_LABEL_WORDS: Final = ("ssn", "social", "tin", "ein", "tax")
_NUMBER_PATTERN = re.compile(
    "|".join(
        (
            _NUM_START + r"(?P<ssn>\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4})" + _NUM_END,
            _NUM_START + r"(?P<ein>\d{2}-\d{7})" + _NUM_END,
            _NUM_START
            + r"(?P<card>[2-6]\d{12,18}|[2-6]\d{3}(?P<card_sep>[ -])\d{4}(?P=card_sep)\d{4}"
            r"(?:(?P=card_sep)\d{1,4}){0,2}|3\d{3}(?P<amex_sep>[ -])\d{6}(?P=amex_sep)\d{5})"
            + _NUM_END,
            r"(?:(?<=\\[nrtbf])|(?<![\w+])(?<![0-9A-Za-z]-)(?<!\d\.))"
            r"(?P<phone>(?:\+?1[-. ]?)?(?:\(\d{3}\)\s?|\d{3}[-. ])\d{3}[-. ]\d{4}|\+1\d{10})"
            + _NUM_END,
        )
    )
)
# Where a number pattern can match: a run of 9+ digits and separators.
_NUMBER_RUN = re.compile(r"[\d(+][\d()+. -]{8,}")
# Every number pattern holds 9 digits once "().- " are removed: a gate cheaper than any regex.
_NUMBER_GATE_TABLE: Final = bytes.maketrans(b"0123456789", b"0000000000")
_NUMBER_GATE_DELETE: Final = b"().- "
_NUMBER_GATE_NEEDLE: Final = b"000000000"
_DIGITS: Final = b"0123456789"
# Short strings recur (event names, ids, levels): remember what they redact to.
_TEXT_CACHE: dict[str, str] = {}
# For hot paths (logging): a hit here is exactly what redact_text returns; on a miss, call it.
REDACTED_TEXT_CACHE: Final[Mapping[str, str]] = _TEXT_CACHE
_TEXT_CACHE_MAX: Final = 8192
_TEXT_CACHE_LONGEST: Final = 256


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _replace_url(match: re.Match[str]) -> str:
    scheme = match["url_scheme"]
    userinfo = match["url_userinfo"]
    if userinfo.startswith(MARKER_PREFIX):
        return match[0]
    user, has_password, _ = userinfo.partition(":")
    is_web = scheme.lower() in ("http", "https")
    if is_web and (not has_password or _looks_like_dsn_key(user)):
        return f"{scheme}://{marker('dsn_key')}@"
    if has_password:
        return f"{scheme}://{user}:{marker('password')}@"
    if scheme.lower() in ("redis", "rediss", "unix"):  # redis://secret@host: a misplaced password
        return f"{scheme}://{marker('password')}@"
    return match[0]


def _looks_like_dsn_key(user: str) -> bool:
    return len(user) >= 16 and all(c in "0123456789abcdefABCDEF" for c in user)


def _replace_secret(match: re.Match[str]) -> str:
    if match["secret_value"].startswith(MARKER_PREFIX):
        return match[0]
    label = match["secret_label"]
    kind = _SECRET_LABEL_KINDS.get(label.lower(), "secret")
    return label + match["secret_gap"] + marker(kind)


def _replace_card(match: re.Match[str]) -> str:
    text = match["card"]
    digits = text.replace(" ", "").replace("-", "")
    if 13 <= len(digits) <= 19 and _luhn_ok(digits):
        return marker("card_number")
    return text


_REPLACERS: Final[dict[str, Callable[[re.Match[str]], str]]] = {
    "url": _replace_url,
    "secret": _replace_secret,
    "bearer": lambda m: m["bearer_label"] + marker("token"),
    "email": lambda m: marker("email"),
    "ssn": lambda m: marker("ssn"),
    "ein": lambda m: marker("ein"),
    "card": _replace_card,
    "phone": lambda m: marker("phone"),
}


def _replace(match: re.Match[str]) -> str:
    # lastgroup is the outermost named group of the alternative that matched
    return _REPLACERS[match.lastgroup or ""](match)


def redact_text(text: str) -> str:
    """``text`` with every sensitive pattern (see the module doc) replaced by its marker."""
    try:
        if len(text) <= _TEXT_CACHE_LONGEST:
            redacted = _TEXT_CACHE.get(text)
            if redacted is not None:
                return redacted
            redacted = _redact_text(text)
            if len(_TEXT_CACHE) >= _TEXT_CACHE_MAX:
                _TEXT_CACHE.clear()
            _TEXT_CACHE[text] = redacted
            return redacted
        return _redact_text(text)
    except Exception:  # a str subclass with a hostile __hash__/__len__: show nothing of it
        return marker("unredactable")


def _redact_text(text: str) -> str:
    # Each pass runs only when a cheap gate proves it could match; str tests, not bytes ones,
    # because `b"x" in some_bytes` pays for the buffer protocol on every call.
    if "@" in text:
        text = _AT_PATTERN.sub(_replace, text)
    if "=" in text or ":" in text or "earer" in text or "EARER" in text:
        lowered = text.lower()
        if (
            "pass" in lowered
            or "pwd" in lowered
            or "secret" in lowered
            or "token" in lowered
            or "key" in lowered
            or "bearer" in lowered
        ):
            text = _SECRET_PATTERN.sub(_replace, text)
    if len(text) >= 9:
        encoded = text.encode("utf-8", "ignore")
        if len(encoded) - len(encoded.translate(None, _DIGITS)) >= 9 and (
            _NUMBER_GATE_NEEDLE in encoded.translate(_NUMBER_GATE_TABLE, _NUMBER_GATE_DELETE)
        ):
            text = _redact_numbers(text)
    return str(text)


def _redact_numbers(text: str) -> str:
    spans: list[tuple[int, int, str]] = []
    lowered = text.lower()
    for word in _LABEL_WORDS:
        found = lowered.find(word)
        while found >= 0:
            for start in (found - 1, found):  # itin, fein start one letter earlier
                match = _LABEL_PATTERN.match(text, max(start, 0))
                if match is not None:
                    spans.append((match.start("label_digits"), match.end(), match.group("label")))
                    break
            found = lowered.find(word, found + 1)
    for run in _NUMBER_RUN.finditer(text):
        position, run_end = run.span()
        window_end = min(len(text), run_end + 2)  # what the lookaheads need to see
        while position < run_end:
            match = _NUMBER_PATTERN.search(text, position, window_end)
            if match is None or match.start() >= run_end:
                break
            replacement = _replace(match)
            if replacement != match[0]:
                spans.append((match.start(), match.end(), replacement))
            position = match.end()
    if not spans:
        return text
    spans.sort()
    pieces = []
    last = 0
    for start, end, replacement in spans:
        if start < last:  # overlaps one already replaced (a labelled SSN is also an SSN)
            continue
        pieces.append(text[last:start])
        pieces.append(replacement if replacement[:1] == "[" else _label_marker(replacement))
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _label_marker(label: str) -> str:
    words = " ".join(label.lower().split())
    if words.startswith("social"):
        return marker("ssn")
    return marker(_LABEL_KINDS.get(words) or _LABEL_KINDS.get(words.split()[0], "ssn"))


# ---------------------------------------------------------------------------------------------
# Structures

_SMALLEST_CARD: Final = 10**12
_LARGEST_CARD: Final = 10**19


def redact(value: Any) -> Any:
    """A redacted copy of ``value`` (see the module doc); the input is never mutated."""
    try:
        return _redact(value, set(), 0)
    except Exception:
        return marker("unredactable")


def _redact(value: Any, active: set[int], depth: int) -> Any:
    kind = type(value)
    if kind is str:
        return redact_text(value)
    if kind is int:
        return _redact_int(value)
    if value is None or kind is float or kind is bool:
        return value
    if isinstance(value, dict | list | tuple | set | frozenset):
        return _redact_container(value, active, depth)
    if isinstance(value, str):
        return redact_text(str(value))
    if isinstance(value, bytes | bytearray | memoryview):
        return _redact_bytes(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _redact_int(int(value))
    return value


def _redact_int(value: int) -> int | str:
    if _SMALLEST_CARD <= value < _LARGEST_CARD:
        digits = str(value)
        if digits[0] in "23456" and _luhn_ok(digits):
            return marker("card_number")
    return value


def _redact_bytes(value: bytes | bytearray | memoryview) -> Any:
    text = bytes(value).decode("utf-8", "backslashreplace")
    redacted = redact_text(text)
    return value if redacted == text else redacted


def _redact_container(value: Any, active: set[int], depth: int) -> Any:
    ident = id(value)
    if ident in active:
        return CYCLE
    if depth >= _MAX_DEPTH:
        return TOO_DEEP
    active.add(ident)
    try:
        if isinstance(value, dict):
            return _redact_dict(value, active, depth + 1)
        items = [_redact_item(item, active, depth + 1) for item in value]
        if isinstance(value, list):
            return items
        if isinstance(value, tuple):
            return tuple(items)
        if isinstance(value, frozenset):
            return frozenset(items)
        return set(items)
    finally:
        active.discard(ident)


def _redact_item(item: Any, active: set[int], depth: int) -> Any:
    try:
        return _redact(item, active, depth)
    except Exception:
        return marker("unredactable")


def _redact_dict(value: dict[Any, Any], active: set[int], depth: int) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    for key, item in value.items():
        try:
            key_kind = sensitive_key_kind(key)
            new_key = redact_text(key) if type(key) is str else _redact(key, active, depth)
            if key_kind is not None and item is not None and type(item) is not bool:
                result[new_key] = marker(key_kind)
            else:
                result[new_key] = _redact(item, active, depth)
        except Exception:
            result[_safe_key(key)] = marker("unredactable")
    return result


def _safe_key(key: Any) -> Any:
    try:
        hash(key)
        return key if type(key) is not str else redact_text(key)
    except Exception:
        return f"<key {id(key):#x}>"
