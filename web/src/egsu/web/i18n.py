"""Languages of the console: message catalogues (gettext) and locale-aware formatting (Babel).

The interface speaks Russian, Kazakh and English. Message ids are English; the ``en`` catalogue is
empty on purpose. Numbers, dates and units follow the chosen language's locale; times are shown in
Kazakhstan's time (UTC+05:00).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal, format_percent
from babel.support import Translations
from fastapi import Request

LANGUAGES: tuple[tuple[str, str], ...] = (("ru", "Русский"), ("kk", "Қазақша"), ("en", "English"))
CODES = tuple(code for code, _ in LANGUAGES)
DEFAULT = "ru"
LANG_COOKIE = "egsu_lang"  # the realm's login page reads the same cookie
LOCALE_DIR = Path(__file__).with_name("locale")
KZ = timezone(timedelta(hours=5))


@functools.cache
def translations(lang: str) -> Translations:
    return Translations.load(str(LOCALE_DIR), [lang], domain="messages")


def pick_language(request: Request) -> str:
    """?lang= first, then the remembered choice, then the browser's preference, then Russian."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in CODES:
            return candidate
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in CODES:
            return code
    return DEFAULT


def _parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(KZ)


@dataclass(frozen=True)
class Lang:
    """One request's language: its messages and its formatting."""

    code: str

    @property
    def locale(self) -> Locale:
        return _locale(self.code)

    def gettext(self, message: str, **values: Any) -> str:
        text = translations(self.code).gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        text = translations(self.code).ngettext(singular, plural, n)
        return text % {"num": n, **values}

    # --- numbers ---------------------------------------------------------------------------------

    def number(self, value: Any, digits: int = 0) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "—"
        fmt = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=fmt, locale=self.locale)

    def percent(self, share: Any, digits: int = 1) -> str:
        if share is None:
            return "—"
        pattern = self.locale.percent_formats[None].pattern.split(";")[0]
        if digits:
            pattern = re.sub(r"0(?=[^0-9.]*%)", "0." + "0" * digits, pattern, count=1)
        return format_percent(share, format=pattern, locale=self.locale)

    def energy(self, kwh: Any, *, power: bool = False) -> str:
        """kWh (or kW with power=True) scaled to a readable unit: kWh, MWh, GWh."""
        if kwh is None:
            return "—"
        units = (
            (("kW", 1), ("MW", 1e3), ("GW", 1e6))
            if power
            else (("kWh", 1), ("MWh", 1e3), ("GWh", 1e6))
        )
        name, scale = units[0]
        for n, s in units:
            if abs(kwh) >= s:
                name, scale = n, s
        value = kwh / scale
        digits = 0 if abs(value) >= 100 else (1 if abs(value) >= 10 else 2)
        return f"{self.number(value, digits)}\u00a0{self.unit(name)}"

    def unit(self, code: str) -> str:
        """A unit's symbol in this language."""
        return translations(self.code).gettext(UNIT_SYMBOLS.get(code, code))

    def quantity_value(self, value: Any, unit: str, digits: int = 2) -> str:
        if value is None:
            return "—"
        return f"{self.number(value, digits)}\u00a0{self.unit(unit)}"

    # --- times -------------------------------------------------------------------------------------

    def datetime(self, value: Any, fmt: str = "short") -> str:
        dt = _parse_time(value)
        if dt is None:
            return "—"
        if fmt == "short":
            return format_datetime(dt, "dd.MM.yyyy HH:mm", tzinfo=KZ, locale=self.locale)
        return format_datetime(dt, fmt, tzinfo=KZ, locale=self.locale)

    def time(self, value: Any) -> str:
        dt = _parse_time(value)
        return "—" if dt is None else format_time(dt, "HH:mm", tzinfo=KZ, locale=self.locale)

    def date(self, value: Any, fmt: str = "medium") -> str:
        if value is None or value == "":
            return "—"
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value[:10]) if len(value) <= 10 else _parse_time(value)
            except ValueError:
                return value
        if isinstance(value, datetime):
            value = value.astimezone(KZ).date()
        return format_date(value, fmt, locale=self.locale)

    def month(self, value: Any) -> str:
        dt = _parse_time(value)
        return "—" if dt is None else format_date(dt.date(), "LLLL yyyy", locale=self.locale)


@functools.cache
def _locale(code: str) -> Locale:
    return Locale.parse(code)


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


# Symbols of units, translated where Russian and Kazakh write them differently.
UNIT_SYMBOLS = {
    "kWh": N_("kWh"),
    "MWh": N_("MWh"),
    "GWh": N_("GWh"),
    "kW": N_("kW"),
    "MW": N_("MW"),
    "GW": N_("GW"),
    "kvarh": N_("kvarh"),
    "kvar": N_("kvar"),
    "V": N_("V"),
    "A": N_("A"),
    "Hz": N_("Hz"),
    "Gcal": N_("Gcal"),
    "Gcal/h": N_("Gcal/h"),
    "m³": N_("m³"),
    "t": N_("t"),
    "°C": N_("°C"),
    "MPa": N_("MPa"),
}
