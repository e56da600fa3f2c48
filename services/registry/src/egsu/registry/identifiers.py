"""Kazakhstan's 12-digit BIN and IIN and their check digit."""

from __future__ import annotations

_W1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_W2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)


def check_digit(first11: str) -> int | None:
    """The 12th digit for the first eleven, or None when the number cannot be valid (both sums give 10)."""
    digits = [int(c) for c in first11]
    d = sum(a * w for a, w in zip(digits, _W1, strict=True)) % 11
    if d == 10:
        d = sum(a * w for a, w in zip(digits, _W2, strict=True)) % 11
    return None if d == 10 else d


def bin_problem(value: str) -> str | None:
    """Why ``value`` is not a valid BIN/IIN, or None if it is."""
    if len(value) != 12 or not value.isdigit():
        return "must be exactly 12 digits"
    expected = check_digit(value[:11])
    if expected is None:
        return "is not a valid BIN/IIN: no check digit fits its first 11 digits"
    if int(value[11]) != expected:
        return f"has a wrong check digit: the 12th digit should be {expected}"
    return None


def is_legal_entity(value: str) -> bool:
    """A BIN (legal entity) has 4, 5 or 6 in the fifth position; an IIN (person) has a month day there."""
    return value[4] in "456"


def complete(first11: str) -> str | None:
    """The full number for eleven digits, or None if no check digit fits."""
    d = check_digit(first11)
    return None if d is None else first11 + str(d)
