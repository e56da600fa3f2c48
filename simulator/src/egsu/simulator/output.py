"""Writing a simulated period to files: registry, readings, events, weather, labels, manifest.

Parquet (default) keeps timestamps as UTC instants; CSV writes them as ISO 8601 with +05:00, and
``readings/*.csv`` has exactly the columns ingest accepts (``point,quantity,ts,value,unit``).
The 80020 format writes one exchange file per subject and day instead (``write_80020``).
Everything written is a function of the parameters: the same seed and start give the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import polars as pl

from egsu.contracts.exchange80020 import DEFAULT_CHANNELS, FILE_UNITS
from egsu.contracts.vocabulary import UNITS
from egsu.simulator import geo
from egsu.simulator.generator import (
    QLIST,
    TZ_OFFSET,
    ULIST,
    Events,
    Readings,
    Simulation,
    local_midnight,
)
from egsu.simulator.model import EnergySystem

ISO = "%Y-%m-%dT%H:%M:%S+05:00"
GENERATOR = "egsu-simulator 0.1"
WHOLE_DAY_POINTS = (
    20_000  # up to this size a day is one file sorted by time; above, one file per chunk
)


def _ts(values: np.ndarray | list[int], fmt: str) -> pl.Series:
    epoch = pl.Series(values, dtype=pl.Int64)
    if fmt == "csv":
        return pl.from_epoch(epoch + TZ_OFFSET, time_unit="s").dt.strftime(ISO)
    return pl.from_epoch(epoch, time_unit="s").dt.replace_time_zone("UTC")


def readings_frame(r: Readings, codes: pl.Series, fmt: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "point": codes.gather(r.point),
            "quantity": pl.Series(QLIST).gather(r.quantity),
            "ts": _ts(r.ts, fmt),
            "value": r.value,
            "unit": pl.Series(ULIST).gather(r.unit),
        }
    )


def events_frame(e: Events, codes: pl.Series, fmt: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "point": codes.gather(pl.Series(e.point, dtype=pl.Int64))
            if e.point
            else pl.Series([], dtype=pl.String),
            "ts": _ts(e.ts, fmt),
            "code": pl.Series(e.code, dtype=pl.String),
            "text": pl.Series(e.text, dtype=pl.String),
        }
    )


def labels_frame(labels: list[dict[str, Any]], fmt: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "defect_id": [f"D{i + 1:07d}" for i in range(len(labels))],
            "type": pl.Series([x["type"] for x in labels], dtype=pl.String),
            "point": pl.Series([x["point"] for x in labels], dtype=pl.String),
            "quantity": pl.Series([x["quantity"] for x in labels], dtype=pl.String),
            "system": pl.Series([x["system"] for x in labels], dtype=pl.String),
            "start": _ts([x["start"] for x in labels], fmt),
            "end": _ts([x["end"] for x in labels], fmt),
            "detail": pl.Series(
                [json.dumps(x["detail"], sort_keys=True) for x in labels], dtype=pl.String
            ),
        }
    )


def registry_frames(s: EnergySystem) -> dict[str, pl.DataFrame]:
    points = {k: v for k, v in s.points.items()}
    points["units"] = [json.dumps(u, sort_keys=True) for u in s.points["units"]]
    systems = dict(s.systems)
    systems["channels"] = [json.dumps(c, ensure_ascii=False) for c in s.systems["channels"]]
    return {
        "subjects": pl.DataFrame(s.subjects),
        "facilities": pl.DataFrame(s.facilities),
        "metering_points": pl.DataFrame(points),
        "devices": pl.DataFrame(s.devices),
        "systems": pl.DataFrame(systems),
        "obligations": pl.DataFrame(s.obligations),
    }


def weather_frames(
    sim: Simulation, start: date, days: int, fmt: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hourly observed temperature per region, and forecasts issued daily at 06:00 for the next two days."""
    n = len(geo.KATOS)
    t0 = local_midnight(start)
    hours = t0 + 3600 * np.arange(days * 24, dtype=np.int64)
    region = np.repeat(np.arange(n), len(hours))
    t = np.tile(hours, n)
    observed = pl.DataFrame(
        {
            "region_kato": pl.Series(geo.KATOS).gather(region),
            "ts": _ts(t, fmt),
            "temperature_c": np.round(sim.weather.temperature(region, t), 2),
        }
    )
    issued = t0 + 86400 * np.arange(days, dtype=np.int64) + 6 * 3600
    lead = 18 * 3600 + 3600 * np.arange(48, dtype=np.int64)  # the next two local days, hourly
    iss = np.repeat(issued, len(lead))
    tt = iss + np.tile(lead, len(issued))
    region_f = np.repeat(np.arange(n), len(tt))
    iss_f, tt_f = np.tile(iss, n), np.tile(tt, n)
    forecast = pl.DataFrame(
        {
            "region_kato": pl.Series(geo.KATOS).gather(region_f),
            "issued_at": _ts(iss_f, fmt),
            "ts": _ts(tt_f, fmt),
            "temperature_c": np.round(sim.weather.forecast(region_f, iss_f, tt_f), 2),
        }
    )
    return observed, forecast


@dataclass
class Written:
    readings: int = 0
    events: int = 0
    labels: int = 0
    files: list[str] = field(default_factory=list)


def _write(df: pl.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "csv":
        for name, dtype in df.schema.items():
            if isinstance(dtype, pl.List):
                df = df.with_columns(
                    pl.col(name).map_elements(
                        lambda v: json.dumps(list(v), ensure_ascii=False), return_dtype=pl.String
                    )
                )
            elif dtype in (pl.Date, pl.Datetime) or isinstance(dtype, pl.Datetime):
                df = df.with_columns(pl.col(name).cast(pl.String))
        df.write_csv(path)
    else:
        df.write_parquet(path, compression="zstd", statistics=False)


def write_dataset(
    out: Path,
    system: EnergySystem,
    sim: Simulation,
    *,
    start: date,
    days: int,
    fmt: str = "parquet",
    meta: dict[str, Any] | None = None,
    progress: Callable[[date, int], None] | None = None,
) -> Written:
    """Generate ``days`` days from ``start`` and write everything under ``out``."""
    if fmt not in ("parquet", "csv"):
        raise ValueError("format: parquet or csv")
    out.mkdir(parents=True, exist_ok=True)
    (out / "registry").mkdir(exist_ok=True)
    (out / "readings").mkdir(exist_ok=True)
    done = Written()
    for name, df in registry_frames(system).items():
        path = out / "registry" / f"{name}.{fmt}"
        _write(df, path, fmt)
        done.files.append(str(path.relative_to(out)))
    codes = pl.Series(system.codes, dtype=pl.String)
    events: list[pl.DataFrame] = []
    labels: list[dict[str, Any]] = []
    whole_days = system.n_points <= WHOLE_DAY_POINTS
    for k in range(days):
        d = start + timedelta(days=k)
        parts: Iterable[tuple[Readings, Events, list[dict[str, Any]]]]
        if whole_days:
            day = sim.day(d)
            parts = [(day.readings, day.events, day.labels)]
        else:
            parts = sim.chunks(d)  # one file per chunk of points, written as it is generated
        n_day = 0
        for j, (r, e, lab) in enumerate(parts):
            suffix = "" if whole_days else f".part{j:03d}"
            path = out / "readings" / f"{d.isoformat()}{suffix}.{fmt}"
            _write(readings_frame(r, codes, fmt), path, fmt)
            done.files.append(str(path.relative_to(out)))
            events.append(events_frame(e.sorted(), codes, fmt))
            labels += lab
            n_day += len(r)
        done.readings += n_day
        if progress:
            progress(d, n_day)
    labels.sort(key=lambda x: (x["start"], x["point"], x["type"], x["quantity"] or "", x["end"]))
    ev = pl.concat(events) if events else events_frame(Events(), codes, fmt)
    done.events, done.labels = len(ev), len(labels)
    observed, forecast = weather_frames(sim, start, days, fmt)
    for name, df in (("events", ev), ("labels", labels_frame(labels, fmt)),
                     ("weather_observed", observed), ("weather_forecast", forecast)):  # fmt: skip
        path = out / f"{name}.{fmt}"
        _write(df, path, fmt)
        done.files.append(str(path.relative_to(out)))
    manifest = {
        "generator": GENERATOR,
        **(meta or {}),
        "start": start.isoformat(),
        "days": days,
        "format": fmt,
        "counts": {
            "subjects": len(system.bins),
            "facilities": len(system.facilities["key"]),
            "metering_points": system.n_points,
            "readings": done.readings,
            "events": done.events,
            "labels": done.labels,
        },
        "conventions": {
            "ts": "interval readings are stamped at the END of their interval; Parquet holds UTC "
            "instants, CSV ISO 8601 with +05:00",
            "labels": "start/end are the stamps (interval ends) of the first and last affected "
            "interval; quantity empty = every quantity of the point",
            "voltage": "voltage_l1..l3 are on the same basis as the point's nominal_voltage",
        },
        "files": sorted(done.files),
    }
    (out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    )
    return done


# --- 80020 exchange files ---------------------------------------------------------------------

CHANNEL_OF = {q: ch for ch, q in DEFAULT_CHANNELS.items()}
CHANNEL_DESC = {
    "01": "активная энергия, приём",
    "02": "активная энергия, отдача",
    "03": "реактивная энергия, приём",
    "04": "реактивная энергия, отдача",
}
ENCODINGS_80020 = ("windows-1251", "utf-8")


def _attr(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def _hhmm(minutes: pl.Expr) -> pl.Expr:
    hours = (minutes // 60).cast(pl.String).str.zfill(2)
    return hours + (minutes % 60).cast(pl.String).str.zfill(2)


def periods_80020(r: Readings, system: EnergySystem) -> pl.DataFrame:
    """The interval energy of points with an 80020 code as ``<period>`` lines, in kWh / kvarh."""
    channel_of = np.full(len(QLIST), -1, dtype=np.int64)
    channel_of[[QLIST.index(q) for q in CHANNEL_OF]] = np.arange(len(CHANNEL_OF))
    factor = np.ones(len(ULIST))
    for dim in FILE_UNITS:
        for u, f in UNITS[dim].items():
            if u in ULIST:
                factor[ULIST.index(u)] = f / UNITS[dim][FILE_UNITS[dim]]
    has_code = np.array([c is not None for c in system.points["code_80020"]])
    keep = (channel_of[r.quantity] >= 0) & has_code[r.point]
    point = r.point[keep].astype(np.int64)
    step = system.p_interval[point].astype(np.int64) * 60
    local_end = r.t_nom[keep] + TZ_OFFSET  # the period a reading belongs to, not its skewed stamp
    df = pl.DataFrame(
        {
            "point": point,
            "channel": pl.Series(list(CHANNEL_OF.values())).gather(channel_of[r.quantity[keep]]),
            "t": r.t_nom[keep],
            "start": (local_end - step) % 86400 // 60,
            "end": local_end % 86400 // 60,
            "value": np.round(r.value[keep] * factor[r.unit[keep]], 4),
        }
    )
    return df.sort("point", "channel", "t").select(
        "point",
        "channel",
        pl.format(
            '<period start="{}" end="{}"><value>{}</value></period>',
            _hhmm(pl.col("start")),
            _hhmm(pl.col("end")),
            pl.col("value"),
        ).alias("line"),
    )


def message_80020(
    system: EnergySystem, subject: int, d: date, points: pl.DataFrame, number: int
) -> str:
    """One subject's 80020 file for day ``d`` from its points' period lines."""
    s = system
    bin_, name = s.bins[subject], _attr(s.subjects["name_ru"][subject])
    blocks = []
    for p in points.iter_rows(named=True):  # per measuring point
        i = p["point"]
        channels = "".join(
            f'<measuringchannel code="{ch}" desc="{CHANNEL_DESC[ch]}">\n{text}\n</measuringchannel>\n'
            for ch, text in zip(p["channel"], p["text"], strict=True)
        )
        blocks.append(
            f'<measuringpoint code="{s.points["code_80020"][i]}" name="{_attr(s.points["name"][i])}">\n'
            f"{channels}</measuringpoint>\n"
        )
    created = (d + timedelta(days=1)).strftime("%Y%m%d") + "010000"
    return (
        '<message class="80020" version="2" number="{number}">\n'
        "<datetime><timestamp>{created}</timestamp><daylightsavingtime>0</daylightsavingtime>"
        "<day>{day}</day></datetime>\n"
        "<sender><inn>{bin}</inn><name>{name}</name></sender>\n"
        '<area timezone="+05:00"><inn>{bin}</inn><name>{name}</name>\n{blocks}</area>\n'
        "</message>\n"
    ).format(
        number=number,
        created=created,
        day=d.strftime("%Y%m%d"),
        bin=bin_,
        name=name,
        blocks="".join(blocks),
    )


def write_80020(
    out: Path,
    system: EnergySystem,
    sim: Simulation,
    *,
    start: date,
    days: int,
    encoding: str = "windows-1251",
    meta: dict[str, Any] | None = None,
    progress: Callable[[date, int], None] | None = None,
) -> Written:
    """One 80020 file per subject and day: ``80020/<day>/80020_<BIN>_<YYYYMMDD>_<n>.xml``."""
    if encoding not in ENCODINGS_80020:
        raise ValueError(f"encoding: one of {', '.join(ENCODINGS_80020)}")
    done = Written()
    subject_of = {b: j for j, b in enumerate(system.bins)}
    owner = np.array([subject_of[b] for b in system.points["subject_bin"]], dtype=np.int64)
    whole_days = system.n_points <= WHOLE_DAY_POINTS
    number = 0
    for k in range(days):
        d = start + timedelta(days=k)
        parts: Iterable[tuple[Readings, Events, list[dict[str, Any]]]]
        parts = [(sim.day(d).readings, Events(), [])] if whole_days else sim.chunks(d)
        lines = pl.concat([periods_80020(r, system) for r, _, _ in parts])
        blocks = (
            lines.group_by("point", "channel", maintain_order=True)
            .agg(pl.col("line").str.join("\n").alias("text"))
            .group_by("point", maintain_order=True)
            .agg("channel", "text")
            .with_columns(subject=pl.lit(pl.Series(owner)).gather(pl.col("point")))
            .sort("subject", "point")
        )
        folder = out / "80020" / d.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        for (j,), points in blocks.group_by("subject", maintain_order=True):  # per subject
            number += 1
            text = message_80020(system, int(j), d, points, number)  # type: ignore[arg-type]
            data = f'<?xml version="1.0" encoding="{encoding}"?>\n{text}'.encode(
                encoding,
                "xmlcharrefreplace",  # Kazakh letters outside windows-1251
            )
            path = folder / f"80020_{system.bins[int(j)]}_{d:%Y%m%d}_{number}.xml"  # type: ignore[arg-type]
            path.write_bytes(data)
            done.files.append(str(path.relative_to(out)))
        done.readings += len(lines)
        if progress:
            progress(d, len(lines))
    manifest = {
        "generator": GENERATOR,
        **(meta or {}),
        "start": start.isoformat(),
        "days": days,
        "format": "80020",
        "encoding": encoding,
        "counts": {"files": len(done.files), "periods": done.readings},
        "conventions": {
            "80020": "one file per subject and day; measuring points by their 80020 code, channels "
            "01-04 active import, active export, reactive import, reactive export in kWh / kvarh; "
            "periods of each point's interval in +05:00 (the area's timezone)",
        },
        "files": sorted(done.files),
    }
    (out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    )
    return done
