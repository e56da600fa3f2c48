"""Errors of the forecasting engine."""

from __future__ import annotations


class ForecastInputError(ValueError):
    """The input cannot be forecast as given; the message is one line a user can act on."""
