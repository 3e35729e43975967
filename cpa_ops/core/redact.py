"""The one redaction of client PII and secrets, shared by logging and Sentry scrubbing.

Two rules, applied by :func:`redact` to any structure:

* **Sensitive keys.** A value under a key that names PII or a secret (``ssn``, ``client-ssn``,
  ``accountNumber``, ``routing``, ``acct``, ``iban``, ``taxpayer``, ``X-Api-Key``,
  ``Authorization``, ``sentry_dsn``, ...) becomes ``[REDACTED:<kind>]``, whatever it is (a
  nested dict or list too). Keys are compared by their words, case- and separator-insensitively,
  and the key's *last* words decide: ``client_ssn`` and ``db_password`` are sensitive,
  ``password_reset_required``, ``token_count`` and ``ssn_last4`` are not. Run-together keys
  (``clientssn``) match on names of 5+ letters and ssn, dsn, itin. Names and addresses:
  ``first_name``, ``last_name``, ``full_name``, ``taxpayer_name``, ``spouse_name`` (any key
  ending in a word that says whose name), ``street``, ``home_address``..., and ``name`` and
  ``address`` as the whole key only (``server_name``, ``bind_address`` are not PII).
  ``None`` and booleans under a sensitive key are kept: they tell whether a value exists, not
  what it is. ``client_id``, ``task_id``, ``request_id``, ``account_id`` and ``agent`` are
  opaque ids, not PII, and are kept.
* **Sensitive patterns.** Every string anywhere (values and dict keys) goes through
  :func:`redact_text`. Text that is not plain ASCII, or holds ``%XX``, ``\\uXXXX`` or
  ``\\xXX`` escapes, is matched in a normalised copy: escapes decoded, NFKC, digits of any
  script as 0-9, any space (no-break, thin...) as a space, any dash or minus (en, em...) as
  ``-``, separator dots as ``.``, zero-width characters and combining marks dropped; a match
  replaces the original characters it stands for, the rest of the text is kept as it was.
  Numbers may be split by a dash or a dot (spaces around it allowed) or 1-3 spaces. It replaces:

  - ``ssn``: ``123-45-6789``, ``123 45 6789``, ``123.45.6789``; 9 bare digits only after a
    label (``SSN 123456789``, ``social security number: ...``), never unlabelled 9-digit runs.
    ``tin``: the same shapes starting with 9 (ITINs), and 9 digits after ``TIN``, ``ITIN``,
    ``tax id``.
  - ``ein``: ``12-3456789``, ``12 3456789``; 9 bare digits after ``EIN``, ``FEIN``.
  - ``email``: the whole ``local@domain.tld``, local part and domain in any script (IDN), an
    apostrophe inside the local part, punycode TLDs; a full-width at sign or ``%40`` is an ``@``.
  - ``phone``: US numbers written with separators: ``(555) 123-4567``, ``555-123-4567``,
    ``555.123.4567``, ``555 123 4567``, ``1-555-123-4567``; any ``+CC`` number of 9-15 digits,
    E.164 (``+442079460958``) or grouped (``+44 (0)20 7946 0958``, ``+81 3-1234-5678``); not
    bare 10-digit runs (epoch seconds) nor 7-digit local numbers.
  - ``card_number``: 13-19 digits starting 2-6 (the card networks; epoch milliseconds start
    with 1) that pass Luhn: contiguous, in groups of 4 (the last 1-4 digits) or Amex 4-6-5,
    split by any mix of separators.
  - ``iban``: a country code, check digits and up to 30 capitals and digits (grouped by single
    spaces or not) passing ISO 13616 mod-97.
  - ``routing_number``: 9 digits after ``routing``, ``routing transit``, ``ABA``, ``RTN``; after
    ``bank``, ``wire``, ``ACH`` only if they pass the ABA checksum.
  - ``account_number``: 4-17 digits (single spaces or dashes inside) after ``account``,
    ``acct``, ``acct no.``, ``account #``, ``account_number=``, ``accountNumber:``, ``a/c``.
  - ``password``: the password (or lone userinfo) in ``redis://``, ``rediss://``, ``unix://``
    URLs, the password of any ``scheme://user:password@``; ``password=...``, ``pwd: ...``.
  - ``dsn_key``: the key of a Sentry DSN ``https://<key>@host/1`` (any http(s) URL with a
    lone userinfo, and ``key:secret`` of old DSNs).
  - ``secret``, ``token``, ``api_key``: ``secret=...``, ``token: ...``, ``api_key=...``,
    ``Bearer <token>``.

  A number is only matched whole: not inside a longer run of digits or letters, not as a
  segment of a UUID or a dashed id (``abc-123-45-6789``; a label still counts:
  ``SSN-123-45-6789``), not after ``<digit>.``. So ids (``task-123``, UUIDs), amounts
  (``1234.56``), dates (``2026-11-28``), ISO timestamps, versions, durations, ports, IP
  addresses and Redis INFO counters are left alone. The documented gap: an unlabelled bare
  number (``123456789``, an account number with no label) is not redacted, since ids look the
  same; nor are numbers split by zero-width characters only, nor ``+CC`` numbers under 9 digits.

:func:`redact` returns a new structure and never mutates its input; it recurses into dicts,
lists, tuples, sets and frozensets (subclasses come back as the plain type), survives cycles
(``<cycle>``) and deep nesting (``<too deep>``), keeps non-str keys, decodes bytes that hold a
pattern, redacts integers that are card numbers, and leaves other objects alone (a renderer
that falls back to ``repr`` must pass that text through :func:`redact_text`). It never raises.
"""

from __future__ import annotations

import re
import unicodedata
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

# Normalised key words (joined, lower-case, no separators) -> kind. A key is sensitive when its
# trailing words, joined, are one of these.
_SENSITIVE_KEYS: Final[dict[str, str]] = {
    **dict.fromkeys(
        ("ssn", "socialsecurity", "socialsecuritynumber", "socialsecurityno", "ssnumber"), "ssn"
    ),
    **dict.fromkeys(
        ("tin", "itin", "taxid", "taxpayerid", "taxidnumber", "taxpayeridentificationnumber"),
        "tin",
    ),
    **dict.fromkeys(("ein", "fein", "employeridentificationnumber"), "ein"),
    "taxpayer": "taxpayer",
    **dict.fromkeys(("dob", "dateofbirth", "birthdate", "birthday"), "dob"),
    **dict.fromkeys(("email", "emailaddress", "mail"), "email"),
    **dict.fromkeys(
        ("phone", "phonenumber", "telephone", "mobile", "mobilenumber", "cellphone", "fax"),
        "phone",
    ),
    **dict.fromkeys(
        (
            "account",
            "acct",
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
    **dict.fromkeys(
        (
            "routing",
            "routingnumber",
            "routingno",
            "routingtransitnumber",
            "rtn",
            "abanumber",
            "aba",
        ),
        "routing_number",
    ),
    **dict.fromkeys(
        ("cardnumber", "creditcard", "creditcardnumber", "ccnumber", "pan", "cvv", "cvc"),
        "card_number",
    ),
    # a person's name: "name" alone only as the whole key (see _WHOLE_KEYS); with a word that
    # says whose name it is, at the end of any key (client_first_name)
    **dict.fromkeys(
        (
            "firstname",
            "lastname",
            "fullname",
            "middlename",
            "givenname",
            "familyname",
            "surname",
            "legalname",
            "maidenname",
            "birthname",
            "taxpayername",
            "spousename",
            "clientname",
            "customername",
            "dependentname",
            "contactname",
            "personname",
            "holdername",
            "beneficiaryname",
            "payeename",
            "payername",
            "employeename",
            "patientname",
        ),
        "name",
    ),
    **dict.fromkeys(
        (
            "street",
            "streetaddress",
            "streetline",
            "addressline",
            "homeaddress",
            "mailingaddress",
            "postaladdress",
            "billingaddress",
            "shippingaddress",
            "residentialaddress",
            "physicaladdress",
            "clientaddress",
            "taxpayeraddress",
            "spouseaddress",
        ),
        "address",
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
# Sensitive only as the whole key: server_name, logger_name, bind_address, ip_address are not.
_WHOLE_KEYS: Final[dict[str, str]] = {"name": "name", "address": "address"}
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
    return _WHOLE_KEYS.get(joined)


# ---------------------------------------------------------------------------------------------
# Sensitive patterns in text

# A number starts here only if not glued to a word, a dashed id/UUID segment or a decimal.
# After a written-out escape (\n, \t... as in a repr or JSON) a number starts too.
_NUM_START = r"(?:(?<=\\[nrtbf])|(?<![\w])(?<![0-9A-Za-z]-)(?<!\d\.))"
_NUM_END = r"(?![\w])(?!-[0-9A-Za-z])(?!\.\d)"
# Between the groups of a number: a dash or a dot (spaces around it allowed), or 1-3 spaces.
_SEP = r"(?:[ \t]{0,2}[-.][ \t]{0,2}|[ \t]{1,3})"
# An SSN (or ITIN) and an EIN, in any of those spellings.
_SSN_SHAPE = rf"\d{{3}}{_SEP}\d{{2}}{_SEP}\d{{4}}"
_EIN_SHAPE = r"\d{2}(?:[ \t]?-[ \t]?|[ \t]{1,2})\d{7}"
# A label starts where no letter or digit precedes it (client_ssn counts, ssnx does not).
_LABEL_START = r"(?:(?<=\\[nrtbf])|(?<![^\W_]))"
# From a label to its number: "number", "no.", "#", "is", ":", "=", quotes (JSON-escaped too).
_LABEL_GAP = (
    r"(?:[\s_-]{0,3}(?i:numbers?|num|no\.?|nr\.?|\#))?(?:\\?[\"'])?[ \t]{0,3}"
    r"(?:(?i:is)[ \t]+|[:=#-][ \t]{0,3})?(?:\\?[\"'])?"
)

_LABEL_KINDS: Final[dict[str, str]] = {
    "ssn": "ssn",
    "social security": "ssn",
    "tin": "tin",
    "itin": "tin",
    "tax id": "tin",
    "taxid": "tin",
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
#    (local parts and domains in any script: \w is Unicode; an apostrophe inside: o'brien)
_AT_PATTERN = re.compile(
    r"(?P<url>(?P<url_scheme>\b[A-Za-z][A-Za-z0-9+.-]{0,20})://"
    r"(?P<url_userinfo>[^\s/?#\"'<>\\]{1,256})@)"
    r"|(?<!\\)(?P<email>[\w.%+-]{1,64}(?:'[\w.%+-]{1,64}){0,2}@"
    r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.){1,8}(?:[^\W\d_]{2,24}|xn--[a-z0-9-]{1,59})\b)"
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
# str.find, inside runs of digits and separators found by a pattern sre scans quickly, and
# (IBANs) at two capitals and two digits.
_LABEL_PATTERN = re.compile(
    _LABEL_START
    + r"(?:(?P<id_label>(?i:ssn|social\s+security(?:\s+(?:number|no\.?))?|i?tin|f?ein|tax\s?id"
    r"|taxpayer\s+id))" + _LABEL_GAP + rf"(?P<id_digits>\d{{9}}|{_SSN_SHAPE}|{_EIN_SHAPE})"
    r"|(?P<routing_label>(?i:routing(?:[\s_-]{0,3}transit)?|aba|rtn))"
    + _LABEL_GAP
    + r"(?P<routing_digits>\d{9})"
    r"|(?P<account_label>(?i:account|acct|a/c))"
    + _LABEL_GAP
    + r"(?P<account_digits>\d(?:[ -]?\d){3,16})"
    r"|(?P<bank_label>(?i:bank|wire(?:\s+to)?|ach))"
    + _LABEL_GAP
    + r"(?P<bank_digits>\d{9}))"
    + _NUM_END
)
# Where a label can start (the first two need one letter more before them: itin, fein).
_LABEL_WORDS: Final = (
    "tin",
    "ein",
    "ssn",
    "social",
    "tax",
    "routing",
    "aba",
    "rtn",
    "bank",
    "wire",
    "ach",
)
_LABEL_WORDS_ACCOUNT: Final = ("acc", "a/c")
_NUMBER_PATTERN = re.compile(
    "|".join(
        (
            _NUM_START + rf"(?P<ssn>{_SSN_SHAPE})" + _NUM_END,
            _NUM_START + rf"(?P<ein>{_EIN_SHAPE})" + _NUM_END,
            _NUM_START + rf"(?P<card>[2-6]\d{{12,18}}|[2-6]\d{{3}}(?:{_SEP}\d{{4}}){{2}}"
            rf"(?:{_SEP}\d{{1,4}}){{0,2}}|3\d{{3}}{_SEP}\d{{6}}{_SEP}\d{{5}})" + _NUM_END,
            r"(?:(?<=\\[nrtbf])|(?<![\w+])(?<![0-9A-Za-z]-)(?<!\d\.))(?:"
            rf"(?P<phone>(?:1{_SEP})?(?:\(\d{{3}}\)[ \t]{{0,2}}|\d{{3}}{_SEP})\d{{3}}{_SEP}\d{{4}})"
            # E.164 (+442079460958) and +CC national forms: +44 (0)20 7946 0958, +81 3-1234-5678
            rf"|(?P<intl>\+[1-9]\d{{8,14}}|\+[1-9]\d{{0,3}}(?:{_SEP}?\(\d{{1,5}}\))?"
            rf"(?:{_SEP}\d{{1,14}}|(?<=\))\d{{1,14}}){{1,7}}))" + _NUM_END,
        )
    )
)
# Where a number pattern can match: a run of 9+ digits and separators.
_NUMBER_RUN = re.compile(r"[\d(+][\d()+. \t-]{8,}")
# IBAN: country code, check digits, then up to 30 letters and digits (in groups of 4 or not).
_IBAN_START = re.compile(r"(?<![^\W_])[A-Z]{2}\d{2}(?=[ ]?[A-Z0-9])")
_IBAN_COUNTRY_CODES: Final = (
    "AD AE AL AO AT AZ BA BE BF BG BH BI BJ BR BY CF CG CH CI CM CR CV CY CZ DE DJ DK DO DZ EE "
    "EG ES FI FK FO FR GA GB GE GI GL GQ GR GT GW HN HR HU IE IL IQ IR IS IT JO KM KW KZ LB LC "
    "LI LT LU LV LY MA MC MD ME MG MK ML MN MR MT MU MZ NE NI NL NO OM PK PL PS PT QA RO RS RU "
    "SA SC SD SE SI SK SM SN SO ST SV TD TG TL TN TR UA VA VG XK YE"
)
_IBAN_COUNTRIES: Final = frozenset(_IBAN_COUNTRY_CODES.split())
# Every number pattern holds 9 digits once "().- " and tabs are removed: cheaper than a regex.
_NUMBER_GATE_TABLE: Final = bytes.maketrans(b"0123456789", b"0000000000")
_NUMBER_GATE_DELETE: Final = b"().- \t"
_NUMBER_GATE_NEEDLE: Final = b"000000000"
_DIGITS: Final = b"0123456789"
# Text that is not plain ASCII, or that hides characters behind %XX, \uXXXX or \xXX escapes,
# is matched in a normalised copy (see _normalised).
_NEEDS_NORMALISING = re.compile(
    r"[^\x00-\x7f]|%[2-7][0-9A-Fa-f]|\\(?:u[0-9A-Fa-f]{4}|x[89A-Fa-f][0-9A-Fa-f])"
)
# Short strings recur (event names, ids, levels): remember what they redact to.
_TEXT_CACHE: dict[str, str] = {}
# For hot paths (logging): a hit here is exactly what redact_text returns; on a miss, call it.
REDACTED_TEXT_CACHE: Final[Mapping[str, str]] = _TEXT_CACHE
_TEXT_CACHE_MAX: Final = 8192
_TEXT_CACHE_LONGEST: Final = 256

Spans = list[tuple[int, int, str]]


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


def _aba_ok(digits: str) -> bool:
    """An ABA routing number's checksum: 3-7-1 weights, a multiple of 10, a known prefix."""
    values = [ord(char) - 48 for char in digits]
    weighted = sum(value * (3, 7, 1)[index % 3] for index, value in enumerate(values))
    prefix = values[0] * 10 + values[1]
    known = prefix <= 12 or 21 <= prefix <= 32 or 61 <= prefix <= 72 or prefix == 80
    return weighted % 10 == 0 and known


def _iban_ok(compact: str) -> bool:
    """ISO 13616 mod-97: the four first characters moved to the end, letters as 10..35."""
    rearranged = compact[4:] + compact[:4]
    try:
        return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1
    except ValueError:
        return False


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
    digits = "".join(char for char in text if char.isdigit())
    if 13 <= len(digits) <= 19 and _luhn_ok(digits):
        return marker("card_number")
    return text


def _replace_ssn(match: re.Match[str]) -> str:
    # no SSN starts with 9: that is an ITIN
    return marker("tin" if match["ssn"][0] == "9" else "ssn")


_REPLACERS: Final[dict[str, Callable[[re.Match[str]], str]]] = {
    "url": _replace_url,
    "secret": _replace_secret,
    "bearer": lambda m: m["bearer_label"] + marker("token"),
    "email": lambda m: marker("email"),
    "ssn": _replace_ssn,
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
    # Text that is not plain ASCII, or hides characters behind escapes, is matched normalised.
    # isascii() is O(1); the rest is the fast path, inline: this runs on every string logged.
    if not text.isascii() or (
        ("%" in text or "\\" in text) and _NEEDS_NORMALISING.search(text) is not None
    ):
        return _redact_normalised(text)
    # Each pass runs only when a cheap gate proves it could match; str tests, not bytes ones,
    # because `b"x" in some_bytes` pays for the buffer protocol on every call. The gates are
    # _may_hold_secret and _may_hold_account written inline: this runs for every logged string.
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
        encoded = text.encode()
        digit_count = len(encoded) - len(encoded.translate(None, _DIGITS))
        # an account number after its label (account, acct) may have only 4 digits
        if digit_count >= 9 or (digit_count >= 4 and ("cc" in text or "CC" in text)):
            spans = _number_spans(text, encoded, digit_count)
            if spans:
                text = _spliced(text, spans)
    return str(text)


def _may_hold_account(text: str) -> bool:
    """Could ``text`` hold an account label (account, acct)? Those numbers may be short; a/c
    counts only before 9 digits or more."""
    return "cc" in text or "CC" in text


def _may_hold_secret(text: str) -> bool:
    if "=" in text or ":" in text or "earer" in text or "EARER" in text:
        lowered = text.lower()
        return (
            "pass" in lowered
            or "pwd" in lowered
            or "secret" in lowered
            or "token" in lowered
            or "key" in lowered
            or "bearer" in lowered
        )
    return False


def _spliced(text: str, spans: Spans) -> str:
    """``text`` with each (start, end, replacement) span replaced; spans sorted, disjoint."""
    pieces = []
    last = 0
    for start, end, replacement in spans:
        pieces.append(text[last:start])
        pieces.append(replacement)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _pattern_spans(pattern: re.Pattern[str], text: str) -> Spans:
    spans = []
    for match in pattern.finditer(text):
        replacement = _replace(match)
        if replacement != match[0]:
            spans.append((match.start(), match.end(), replacement))
    return spans


def _number_spans(text: str, encoded: bytes, digit_count: int) -> Spans:
    """The sorted, disjoint spans of labelled numbers, number patterns and IBANs in ``text``
    (``encoded`` and its ``digit_count``: what the caller's gate computed)."""
    spans: Spans = []
    if digit_count >= 9 and (
        _NUMBER_GATE_NEEDLE in encoded.translate(_NUMBER_GATE_TABLE, _NUMBER_GATE_DELETE)
    ):
        lowered = text.lower()
        _label_spans(text, lowered, _LABEL_WORDS + _LABEL_WORDS_ACCOUNT, spans)
        _pattern_run_spans(text, spans)
        _iban_spans(text, spans)
    elif _may_hold_account(text):
        # an account number after its label may be short: "acct 12345678"
        _label_spans(text, text.lower(), _LABEL_WORDS_ACCOUNT, spans)
    if not spans:
        return spans
    spans.sort()
    disjoint: Spans = []
    last = 0
    for span in spans:
        if span[0] >= last:  # else it overlaps one already kept (a labelled SSN is also an SSN)
            disjoint.append(span)
            last = span[1]
    return disjoint


def _label_spans(text: str, lowered: str, words: tuple[str, ...], spans: Spans) -> None:
    for word in words:
        found = lowered.find(word)
        while found >= 0:
            for start in (found - 1, found):  # itin, fein start one letter earlier
                match = _LABEL_PATTERN.match(text, max(start, 0))
                if match is not None:
                    span = _label_span(match)
                    if span is not None:
                        spans.append(span)
                    break
            found = lowered.find(word, found + 1)


def _label_span(match: re.Match[str]) -> tuple[int, int, str] | None:
    if match["id_label"] is not None:
        return (match.start("id_digits"), match.end(), _id_marker(match["id_label"]))
    if match["routing_label"] is not None:
        return (match.start("routing_digits"), match.end(), marker("routing_number"))
    if match["account_label"] is not None:
        return (match.start("account_digits"), match.end(), marker("account_number"))
    if _aba_ok(match["bank_digits"]):  # "bank 021000021": only a valid routing number
        return (match.start("bank_digits"), match.end(), marker("routing_number"))
    return None


def _id_marker(label: str) -> str:
    words = " ".join(label.lower().split())
    if words.startswith("social"):
        return marker("ssn")
    return marker(_LABEL_KINDS.get(words) or _LABEL_KINDS.get(words.split()[0], "ssn"))


def _pattern_run_spans(text: str, spans: Spans) -> None:
    for run in _NUMBER_RUN.finditer(text):
        position, run_end = run.span()
        window_end = min(len(text), run_end + 2)  # what the lookaheads need to see
        while position < run_end:
            match = _NUMBER_PATTERN.search(text, position, window_end)
            if match is None or match.start() >= run_end:
                break
            if match.lastgroup == "intl":
                end = _phone_end(text, match)
                if end:
                    spans.append((match.start(), end, marker("phone")))
                position = end or match.end()
                continue
            replacement = _replace(match)
            if replacement != match[0]:
                spans.append((match.start(), match.end(), replacement))
            position = match.end()


def _phone_end(text: str, match: re.Match[str]) -> int:
    """Where the phone number (+CC and groups) that ``match`` starts ends in ``text``: after the
    longest run of its groups holding 9-15 digits (E.164) whose last groups do not start another
    number (+44 20 7946 0958 123-45-6789 is a phone, then an SSN); 0 if none."""
    groups = []  # (start, end) of each group, with the digits counted up to its end
    digits = 0
    for group in _PHONE_GROUP.finditer(text, match.start(), match.end()):
        if group[0] != "(0)":  # the national trunk prefix in +44 (0)20 ...
            digits += len(group[1])
        if digits > 15:
            break
        groups.append((group.start(), group.end(), digits))
    candidates = [index for index, (_, _, count) in enumerate(groups) if count >= 9]
    for candidate in reversed(candidates):
        end = groups[candidate][1]
        if not any(
            _starts_other_number(text, start, end) for start, _, _ in groups[1 : candidate + 1]
        ):
            return end
    return groups[candidates[0]][1] if candidates else 0


_PHONE_GROUP = re.compile(r"\(?(\d+)\)?")


def _starts_other_number(text: str, start: int, end: int) -> bool:
    other = _NUMBER_PATTERN.match(text, start)
    return (
        other is not None
        and other.lastgroup != "intl"
        and other.end() > end
        and _replace(other) != other[0]
    )


def _iban_spans(text: str, spans: Spans) -> None:
    for start in _IBAN_START.finditer(text):
        if start[0][:2] not in _IBAN_COUNTRIES:
            continue
        compact = start[0]
        position = start.end()
        ends = []  # (end in text, compact length) where the IBAN could end
        while position < len(text) and len(compact) < 34:
            char = text[position]
            if char == " " and position + 1 < len(text) and text[position + 1] != " ":
                position += 1
                continue
            if not ("A" <= char <= "Z" or "0" <= char <= "9"):
                break
            compact += char
            position += 1
            if position == len(text) or not text[position].isalnum():
                ends.append((position, len(compact)))
        for end, length in reversed(ends):
            if length >= 15 and _iban_ok(compact[:length]):
                spans.append((start.start(), end, marker("iban")))
                break


# ---------------------------------------------------------------------------------------------
# Normalisation: what text that is not plain ASCII is matched in

# Dots NFKC leaves alone that people use as separators (middle dot, ideographic full stop...).
_DOTS: Final = frozenset("\u00b7\u2027\u2e31\u3002\u30fb\uff61\uff65")
_MINUSES: Final = frozenset("\u2212\u2796\u02d7\u2e3a\u2e3b")
_CHAR_CACHE: dict[str, str] = {}
_CHAR_CACHE_MAX: Final = 4096


def _normal_char(char: str) -> str:
    """What one character is matched as: NFKC, then any script's digit as 0-9, any space as a
    space, any dash or minus as "-", separator dots as ".", zero-width characters and
    combining marks as nothing (as a reader sees them)."""
    normal = _CHAR_CACHE.get(char)
    if normal is None:
        pieces = []
        for piece in unicodedata.normalize("NFKC", char):
            if piece.isascii():
                pieces.append(piece)
                continue
            category = unicodedata.category(piece)
            if category == "Nd":
                pieces.append(chr(48 + unicodedata.decimal(piece)))
            elif category[0] == "Z":
                pieces.append(" ")
            elif category == "Pd" or piece in _MINUSES:
                pieces.append("-")
            elif category == "Cf" or category[0] == "M":
                continue  # zero-width characters, combining marks: read as nothing
            elif piece in _DOTS:
                pieces.append(".")
            else:
                pieces.append(piece)
        normal = "".join(pieces)
        if len(_CHAR_CACHE) >= _CHAR_CACHE_MAX:
            _CHAR_CACHE.clear()
        _CHAR_CACHE[char] = normal
    return normal


def _normalised(text: str) -> tuple[str, list[int]]:
    """The copy of ``text`` the patterns are matched in, and where each of its characters ends
    in ``text`` (character k of the copy stands for ``text[ends[k-1]:ends[k]]``; a dropped
    character belongs to the next one). %XX, \\uXXXX and \\xXX escapes are decoded."""
    pieces: list[str] = []
    ends: list[int] = []
    last = 0
    for found in _NEEDS_NORMALISING.finditer(text):
        start, end = found.span()
        if start > last:
            pieces.append(text[last:start])
            ends.extend(range(last + 1, start + 1))
        token = found[0]
        if len(token) == 1:
            normal = _normal_char(token)
        elif token[0] == "%":
            normal = chr(int(token[1:], 16))
        else:
            decoded = chr(int(token[2:], 16))
            normal = decoded if decoded.isascii() else _normal_char(decoded)
        if normal:
            pieces.append(normal)
            ends.extend([end] * len(normal))
        last = end
    if last < len(text):
        pieces.append(text[last:])
        ends.extend(range(last + 1, len(text) + 1))
    return "".join(pieces), ends


def _redact_normalised(text: str) -> str:
    """Redacts text that is not plain ASCII: the patterns run on the normalised copy, and each
    match replaces the characters of ``text`` it stands for; the rest of ``text`` is kept."""
    normal, ends = _normalised(text)
    marks: list[tuple[int, int]] = []  # where markers stand in the copy: shown as they are
    for spans_of in (_at_spans, _secret_spans, _normalised_number_spans):
        spans = spans_of(normal) if len(normal) >= 3 else []
        if not spans:
            continue
        normal, ends, marks = _spliced_tracked(normal, ends, marks, spans)
    if not marks:
        return text
    pieces = []
    position = 0
    for start, end in marks:
        pieces.append(text[_origin(ends, position) : _origin(ends, start)])
        pieces.append(normal[start:end])
        position = end
    pieces.append(text[_origin(ends, position) :])
    return "".join(pieces)


def _at_spans(text: str) -> Spans:
    return _pattern_spans(_AT_PATTERN, text) if "@" in text else []


def _secret_spans(text: str) -> Spans:
    return _pattern_spans(_SECRET_PATTERN, text) if _may_hold_secret(text) else []


def _normalised_number_spans(text: str) -> Spans:
    encoded = text.encode("utf-8", "ignore")
    digit_count = len(encoded) - len(encoded.translate(None, _DIGITS))
    if digit_count >= 9 or (digit_count >= 4 and _may_hold_account(text)):
        return _number_spans(text, encoded, digit_count)
    return []


def _origin(ends: list[int], position: int) -> int:
    """Where character ``position`` of the normalised copy starts in the original text."""
    return ends[position - 1] if position > 0 else 0


def _spliced_tracked(
    normal: str, ends: list[int], marks: list[tuple[int, int]], spans: Spans
) -> tuple[str, list[int], list[tuple[int, int]]]:
    """:func:`_spliced` on the copy, keeping ``ends`` and the markers' places in step."""
    pieces: list[str] = []
    new_ends: list[int] = []
    new_marks: list[tuple[int, int]] = []
    last = 0
    shift = 0
    old_marks = iter(marks)
    pending = next(old_marks, None)
    for start, end, replacement in spans:
        while pending is not None and pending[1] <= start:
            new_marks.append((pending[0] + shift, pending[1] + shift))
            pending = next(old_marks, None)
        while pending is not None and pending[0] < end:  # swallowed by this replacement
            pending = next(old_marks, None)
        pieces.append(normal[last:start])
        new_ends.extend(ends[last:start])
        # the replacement keeps the start of the match (its label, url scheme...): only what
        # differs is a marker, the rest still stands for the original characters
        kept = _common_prefix(normal, start, end, replacement)
        pieces.append(replacement)
        new_ends.extend(ends[start : start + kept])
        new_ends.extend([ends[end - 1]] * (len(replacement) - kept))
        new_marks.append((start + kept + shift, start + len(replacement) + shift))
        shift += len(replacement) - (end - start)
        last = end
    while pending is not None:
        new_marks.append((pending[0] + shift, pending[1] + shift))
        pending = next(old_marks, None)
    pieces.append(normal[last:])
    new_ends.extend(ends[last:])
    return "".join(pieces), new_ends, new_marks


def _common_prefix(normal: str, start: int, end: int, replacement: str) -> int:
    limit = min(end - start, len(replacement))
    kept = 0
    while kept < limit and normal[start + kept] == replacement[kept]:
        kept += 1
    # stop before the marker: "[REDACTED:" must stay in one piece
    return min(kept, replacement.find(MARKER_PREFIX)) if MARKER_PREFIX in replacement else kept


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
