"""The secrets this process holds, registered once, replaced by value wherever text leaves.

The settings register every secret they carry the moment they load (Redis passwords, a lone
userinfo that is often a misplaced password, ``?password=``/``ssl_password=`` of every URL and
cluster seed, userinfo in REDIS_SENTINELS entries, both keys of SENTRY_DSN); a service that
holds another secret may :func:`register_secret` it. Every way out then replaces each one by
value, as ``***``: the CLI's stdout/stderr writer, both log renderers (one pass over each final
line), the Sentry hooks and the dry-run envelope, and a probe's error detail.

A secret is found in every spelling a server, a library or a renderer may give it: as written,
percent-decoded, percent-encoded (``quote``/``quote_plus``, either hex case), repr-escaped
(str and bytes, either quote), JSON-escaped (orjson's and ``ensure_ascii``'s) and those
escapes of the other spellings, with CR/LF as spaces (how Redis echoes an argument) or its
controls made visible (:func:`~cpa_ops.core.terminal.visible_controls`); in any case (by
``str.lower``). A long secret is masked from its first 24 characters on, as far as it goes, so
a server that cuts an echoed argument short (Redis stops at 128 bytes) does not leak its start.
A secret shorter than 4 characters is replaced only as a whole token (not inside a word; one of
punctuation only, between white space), and white space alone is never replaced.

With nothing registered each pass is one attribute test; otherwise a line is lowered and
searched for each spelling's first 4 characters before the one compiled pattern runs.
Pattern masking (:mod:`cpa_ops.core.redact`) stays as the second layer.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from cpa_ops.core.terminal import visible_controls

__all__ = [
    "MASK",
    "SHORT_SECRET",
    "forget_secrets",
    "register_secret",
    "registered_secrets",
    "scrub_json_line",
    "scrub_text",
    "scrub_value",
    "spellings",
]

MASK: Final = "***"
#: secrets shorter than this are masked only as whole tokens
SHORT_SECRET: Final = 4
# A long spelling is masked from this many characters on (a cut-short echo still goes).
_PREFIX: Final = 24
# Past this depth the pattern's trie is written as plain alternatives (sre nests recursively).
_TRIE_DEPTH: Final = 120
# Each spelling's first characters (up to this many) are looked for before the pattern runs.
_GATE: Final = 16
_URL_SAFE: Final = ("", "/", "*/:", "!$&'()*+,;=:@/~")
_MAX_DEPTH: Final = 64


# The pattern, and the lower-cased start of every spelling (None: some start lowers
# unpredictably, so the pattern always runs); one tuple, swapped whole on registration.
_Compiled = tuple[re.Pattern[str], tuple[str, ...] | None]
_lock = threading.Lock()
_secrets: dict[str, None] = {}  # registration order, no duplicates
_compiled: _Compiled | None = None


def register_secret(*secrets: str | None) -> None:
    """Add ``secrets`` (empty and None ones are skipped) to what every way out replaces."""
    global _compiled
    new = [s for s in secrets if isinstance(s, str) and s and s not in _secrets]
    if not new:
        return
    with _lock:
        for secret in new:
            _secrets.setdefault(str(secret))
        _compiled = _compile(tuple(_secrets))


def registered_secrets() -> tuple[str, ...]:
    """The secrets registered so far, in order."""
    return tuple(_secrets)


def forget_secrets() -> None:
    """Forget every registered secret (tests; a process normally keeps them to its end)."""
    global _compiled
    with _lock:
        _secrets.clear()
        _compiled = None


def scrub_text(text: str) -> str:
    """``text`` with every registered secret, in every spelling, replaced by ``***``."""
    compiled = _compiled
    if compiled is None:
        return text
    pattern, needles = compiled
    if needles is not None:  # inlined: this runs once per log line
        lowered = text.lower()
        for needle in needles:
            if needle in lowered:
                break
        else:
            return text
    return pattern.sub(MASK, text)


def scrub_json_line(line: str) -> str:
    """A JSON line (one object, optionally newline-terminated) with every registered secret
    replaced, and still valid JSON: should a replacement break its syntax (a secret that looks
    like JSON punctuation), the line is parsed, scrubbed value by value and written again."""
    if _compiled is None:
        return line
    scrubbed = scrub_text(line)
    if scrubbed == line:
        return line
    try:
        json.loads(scrubbed)
        return scrubbed
    except ValueError:
        pass
    end = "\n" if line.endswith("\n") else ""
    try:
        value = scrub_value(json.loads(line))
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + end
    except ValueError:  # not JSON after all: the text pass is all there is
        return scrubbed


def scrub_value(value: Any) -> Any:
    """``value`` with registered secrets replaced in every str (and bytes) inside it, keys
    included; dicts, lists, tuples and sets are copied, other objects kept as they are."""
    if _compiled is None:
        return value
    return _scrub(value, set(), 0)


def _scrub(value: Any, active: set[int], depth: int) -> Any:
    if isinstance(value, str):
        return scrub_text(str(value))
    if isinstance(value, bytes | bytearray):
        text = bytes(value).decode("utf-8", "backslashreplace")
        scrubbed = scrub_text(text)
        return value if scrubbed == text else scrubbed
    if not isinstance(value, dict | list | tuple | set | frozenset):
        return value
    if id(value) in active or depth >= _MAX_DEPTH:
        return value if depth < _MAX_DEPTH else "<too deep>"
    active.add(id(value))
    try:
        if isinstance(value, dict):
            return {
                _scrub(k, active, depth + 1): _scrub(v, active, depth + 1) for k, v in value.items()
            }
        items = [_scrub(item, active, depth + 1) for item in value]
        if isinstance(value, list):
            return items
        if isinstance(value, tuple):
            return tuple(items)
        return frozenset(items) if isinstance(value, frozenset) else set(items)
    finally:
        active.discard(id(value))


# ---------------------------------------------------------------------------------------------
# Spellings and the pattern


def spellings(secret: str) -> set[str]:
    """Every spelling of ``secret`` the passes look for (see the module doc)."""
    found: set[str] = set()
    for base in _bases(secret):
        found |= _forms(base)
    return found


def _bases(secret: str) -> set[str]:
    """The secret as written and percent-decoded (``+`` as a space or not)."""
    return {b for b in (secret, unquote(secret), unquote_plus(secret)) if b}


def _forms(base: str) -> set[str]:
    """Every spelling of one value (no further percent-decoding)."""
    forms = {base, base.replace("\r", " ").replace("\n", " "), visible_controls(base)}
    for safe in _URL_SAFE:
        # an undecodable byte of the environment (a lone surrogate) is quoted as that byte
        forms.add(quote(base, safe=safe, errors="surrogateescape"))
        forms.add(quote_plus(base, safe=safe, errors="surrogateescape"))
    for form in list(forms):
        forms |= _repr_forms(form)
    for form in list(forms):
        forms |= _repr_forms(form)  # a repr inside a repr (exception args, tuples)
    for form in list(forms):
        forms.add(json.dumps(form, ensure_ascii=False)[1:-1])
        forms.add(json.dumps(form)[1:-1])
    return {form for form in forms if form}


def _repr_forms(text: str) -> set[str]:
    # repr picks its quote by the content: ask for both, the second by adding a '"'
    forms = {repr(text)[1:-1], repr(text + '"')[1:-2]}
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        return forms
    forms.add(repr(raw)[2:-1])
    forms.add(repr(raw + b'"')[2:-2])
    return forms


def _fold(text: str) -> str:
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


class _Node:
    __slots__ = ("accept", "children")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.accept = False


def _compile(secrets: Iterable[str]) -> _Compiled:
    root = _Node()
    short: set[str] = set()
    marks: set[str] = set()
    needles: set[str] = set()
    for secret in secrets:
        for base in _bases(secret):
            # white space alone hides nothing, and masking it would take every line apart
            forms = {form for form in _forms(base) if form.strip()}
            if len(base) < SHORT_SECRET:
                for form in forms:
                    (short if any(c.isalnum() for c in form) else marks).add(_fold(form))
                continue
            needles |= {_insert(root, _fold(form)) for form in forms}
    parts = []
    if root.children:
        parts.append(_node_regex(root, 0))
    if short:
        alternatives = "|".join(re.escape(s) for s in sorted(short, key=len, reverse=True))
        parts.append(rf"(?<!\w)(?:{alternatives})(?!\w)")
    if marks:
        # punctuation only (",", "+"): a token of its own between spaces, never a JSON comma
        alternatives = "|".join(re.escape(s) for s in sorted(marks, key=len, reverse=True))
        parts.append(rf"(?<!\S)(?:{alternatives})(?!\S)")
    needles |= short | marks
    # str.lower of a line must lower each needle as it stands: no Σ (lowered by context)
    gated = all(_fold(n) == n.lower() and not {"\u03c3", "\u03c2"} & set(n) for n in needles)
    pattern = re.compile("|".join(parts), re.IGNORECASE)
    return pattern, tuple(sorted(needles)) if gated else None


def _insert(root: _Node, form: str) -> str:
    """Add ``form`` to the trie; its gate needle (the start every match of it begins with)."""
    node = root
    accept_from = min(len(form), _PREFIX)
    for depth, char in enumerate(form, 1):
        node = node.children.setdefault(char, _Node())
        if depth >= accept_from:
            node.accept = True
    return form[: min(accept_from, _GATE)]


def _suffixes(node: _Node) -> list[str]:
    if not node.children:
        return [""]
    return [char + rest for char, child in node.children.items() for rest in _suffixes(child)]


def _node_regex(node: _Node, depth: int) -> str:
    if not node.children:
        return ""
    if depth >= _TRIE_DEPTH:  # every node this deep accepts: the longest suffix that follows
        tails = sorted((s for s in _suffixes(node) if s), key=len, reverse=True)
        return "(?:" + "|".join(re.escape(t) for t in tails) + ")?"
    branches = [
        re.escape(char) + _node_regex(child, depth + 1)
        for char, child in sorted(node.children.items())
    ]
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if node.accept else body
