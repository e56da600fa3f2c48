"""What a report is about, and the sources every kind reads from."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from egsu.contracts.regions import REGIONS_BY_KATO
from egsu.reports.config import ReportsSettings
from egsu.reports.i18n import LANGUAGES, all_languages
from egsu.reports.sources import (
    Alarms,
    Directory,
    Forecasts,
    Historian,
    Ingest,
    Node,
    PointInfo,
    Registry,
)


@dataclass
class Sources:
    settings: ReportsSettings
    registry: Registry
    historian: Historian
    ingest: Ingest
    forecasts: Forecasts
    alarms: Alarms


@dataclass(frozen=True)
class Scope:
    """The object of a report: the nation, a region, a subject or a facility."""

    level: str  # local | regional | national
    type: str  # country | region | subject | facility
    key: str  # KZ, KATO, BIN or facility id
    subject_bin: str | None = None  # for local scopes
    region_kato: str | None = None

    @property
    def node(self) -> Node:
        return (self.type, self.key)

    @property
    def breakdown(self) -> str:
        """What the report's breakdown table lists."""
        return {
            "country": "region",
            "region": "subject",
            "subject": "facility",
            "facility": "point",
        }[self.type]

    def contains(self, p: PointInfo) -> bool:
        if self.type == "country":
            return True
        if self.type == "region":
            return p.region_kato == self.key
        if self.type == "subject":
            return p.subject_bin == self.key
        return p.facility_id == self.key

    def part_of(self, p: PointInfo) -> str:
        b = self.breakdown
        return {
            "region": p.region_kato,
            "subject": p.subject_bin,
            "facility": p.facility_id,
            "point": p.code,
        }[b]

    def keyed(self, *, breakdown: bool) -> Callable[[PointInfo], Hashable]:
        if breakdown:
            return lambda p: (p.position, self.part_of(p))
        return lambda p: (p.position, "")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self, monthly: bool = False) -> Period:
        if monthly:
            months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1
            y, m = self.start.year, self.start.month - months
            while m < 1:
                y, m = y - 1, m + 12
            first = date(y, m, 1)
            return Period(first, self.start - timedelta(days=1))
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def last_year(self) -> Period:
        def back(d: date) -> date:
            try:
                return d.replace(year=d.year - 1)
            except ValueError:  # 29 February
                return d.replace(year=d.year - 1, day=28)

        return Period(back(self.start), back(self.end))

    def label(self) -> str:
        return (
            self.start.isoformat()
            if self.start == self.end
            else f"{self.start.isoformat()} — {self.end.isoformat()}"
        )


def names_of(scope: Scope, d: Directory, ids: list[str]) -> dict[str, dict[str, str]]:
    """Names in three languages of the breakdown's parts."""
    out: dict[str, dict[str, str]] = {}
    for i in ids:
        if scope.breakdown == "region":
            r = REGIONS_BY_KATO.get(i)
            out[i] = (
                {lang: r.name(lang) for lang in LANGUAGES} if r else {lang: i for lang in LANGUAGES}
            )
        elif scope.breakdown == "subject":
            out[i] = {lang: d.subject_name(i, lang) for lang in LANGUAGES}
        elif scope.breakdown == "facility":
            out[i] = {lang: d.facility_name(i, lang) for lang in LANGUAGES}
        else:
            out[i] = {lang: i for lang in LANGUAGES}
    return out


def scope_name(scope: Scope, d: Directory) -> dict[str, str]:
    if scope.type == "country":
        return all_languages("scope.national")
    if scope.type == "region":
        r = REGIONS_BY_KATO[scope.key]
        return {lang: f"{r.name(lang)} ({r.kato})" for lang in LANGUAGES}
    if scope.type == "subject":
        return {lang: f"{d.subject_name(scope.key, lang)} ({scope.key})" for lang in LANGUAGES}
    return {
        lang: f"{d.facility_name(scope.key, lang)} — {d.subject_name(scope.subject_bin or '', lang)}"
        for lang in LANGUAGES
    }
