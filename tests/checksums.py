"""Valid-looking account numbers for planting PII in tests: each completed with the check digit
its checksum needs (Luhn for cards, ABA for routing numbers, mod-97 for IBANs)."""

from __future__ import annotations

import string


def luhn_complete(body: str) -> str:
    """``body`` plus the check digit that makes it pass Luhn."""
    for check in string.digits:
        total = 0
        for position, char in enumerate(reversed(body + check)):
            value = int(char) * (2 if position % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return body + check
    raise AssertionError("unreachable")


def aba_complete(body: str) -> str:
    """An 8-digit ``body`` plus the check digit of an ABA routing number."""
    for check in string.digits:
        digits = body + check
        if sum(int(d) * (3, 7, 1)[i % 3] for i, d in enumerate(digits)) % 10 == 0:
            return digits
    raise AssertionError("unreachable")


def iban_of(country: str, bban: str) -> str:
    """The IBAN of ``bban`` in ``country``, its check digits computed (mod-97)."""
    value = int("".join(str(int(char, 36)) for char in bban + country + "00"))
    return f"{country}{98 - value % 97:02d}{bban}"
