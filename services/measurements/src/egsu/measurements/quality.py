"""Reading quality, in the spirit of IEC 61968-9 reading qualities."""

from __future__ import annotations

VALID, SUSPECT, MISSING, ESTIMATED, EDITED = 0, 1, 2, 3, 4
NAMES = {
    VALID: "valid",
    SUSPECT: "suspect",
    MISSING: "missing",
    ESTIMATED: "estimated",
    EDITED: "edited",
}
CODES = {v: k for k, v in NAMES.items()}

# Where a version came from.
ACTUAL, ESTIMATE, EDIT = 0, 1, 2
