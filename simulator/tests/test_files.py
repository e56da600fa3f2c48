"""The simulator without a System: reproducible files, labels that match the data, physics."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from egsu.contracts.vocabulary import resolve_quantity, unit_factor
from egsu.simulator.cli import app
from egsu.simulator.defects import LABEL_TYPES, Rates
from egsu.simulator.generator import Q, Simulation, local_midnight
from egsu.simulator.geo import KATOS
from egsu.simulator.model import build
from egsu.simulator.post import window

from .conftest import START, Dataset

runner = CliRunner()


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _run(*args: str) -> None:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    common = ["--points", "150", "--days", "2", "--start", "2026-01-12"]
    _run(*common, "--seed", "1", "--out", str(tmp_path / "a"))
    _run(*common, "--seed", "1", "--out", str(tmp_path / "b"))
    _run(*common, "--seed", "2", "--out", str(tmp_path / "c"))
    a, b, c = (_digests(tmp_path / x) for x in "abc")
    assert {"labels.parquet", "events.parquet", "weather_observed.parquet", "weather_forecast.parquet",
            "manifest.json", "registry/metering_points.parquet", "readings/2026-01-12.parquet",
            "readings/2026-01-13.parquet"} <= set(a)  # fmt: skip
    assert a == b
    for name in ("labels.parquet", "readings/2026-01-12.parquet", "registry/subjects.parquet"):
        assert a[name] != c[name], name


def test_csv_is_what_ingest_accepts(tmp_path: Path) -> None:
    _run("--points", "60", "--days", "1", "--format", "csv", "--out", str(tmp_path))
    head = (tmp_path / "readings" / "2026-01-12.csv").read_text().splitlines()[:2]
    assert head[0] == "point,quantity,ts,value,unit"
    assert head[1].split(",")[2].endswith("+05:00")
    labels = pl.read_csv(tmp_path / "labels.csv")
    assert labels.columns == [
        "defect_id",
        "type",
        "point",
        "quantity",
        "system",
        "start",
        "end",
        "detail",
    ]


def test_without_out_it_says_what_to_do() -> None:
    result = runner.invoke(app, ["--points", "10"])
    assert result.exit_code != 0
    assert "--out" in result.output


def test_labels_cover_every_defect_type_with_point_span_and_type(dataset: Dataset) -> None:
    lab = dataset.labels
    assert set(lab["type"].unique()) == set(LABEL_TYPES)
    assert lab["point"].null_count() == 0 and lab["start"].null_count() == 0
    assert (lab["start"] <= lab["end"]).all()
    assert set(lab["point"].unique()) <= set(dataset.points["code"])
    per_q = lab.filter(
        pl.col("type").is_in(["spike", "negative", "duplicate", "stuck", "rollover"])
    )
    assert per_q["quantity"].null_count() == 0
    assert lab.filter(pl.col("type") == "comm_loss")["system"].null_count() == 0


def _at(dataset: Dataset, kind: str) -> pl.DataFrame:
    """Readings at the labelled point, quantity and interval of each label of one kind."""
    lab = dataset.labels.filter(pl.col("type") == kind).select("point", "quantity", "start")
    return lab.join(
        dataset.readings,
        left_on=["point", "quantity", "start"],
        right_on=["point", "quantity", "ts"],
    )


def test_each_label_shows_in_the_data_and_nothing_unlabelled_does(dataset: Dataset) -> None:
    r, lab = dataset.readings, dataset.labels
    # negative values: exactly where labelled
    neg = r.filter(pl.col("value") < 0).select("point", "quantity", "ts")
    labelled_neg = lab.filter(pl.col("type") == "negative").select(
        "point", "quantity", pl.col("start").alias("ts")
    )
    interchange_power = neg.filter(pl.col("quantity") == "active_power")  # net flow may be negative
    assert (
        neg.join(interchange_power, on=["point", "quantity", "ts"], how="anti")
        .sort(neg.columns)
        .equals(labelled_neg.sort(neg.columns))
    )
    # duplicates with different values: exactly where labelled
    dup = (
        r.group_by("point", "quantity", "ts")
        .agg(pl.col("value").n_unique().alias("n"))
        .filter(pl.col("n") > 1)
    )
    labelled_dup = lab.filter(pl.col("type") == "duplicate").select(
        "point", "quantity", pl.col("start").alias("ts")
    )
    assert (
        dup.select(labelled_dup.columns)
        .sort(labelled_dup.columns)
        .equals(labelled_dup.sort(labelled_dup.columns))
    )
    # spikes stand far above the point's own median
    med = r.group_by("point", "quantity").agg(pl.col("value").abs().median().alias("med"))
    spikes = _at(dataset, "spike").join(med, on=["point", "quantity"])
    assert len(spikes) == len(lab.filter(pl.col("type") == "spike"))
    assert (spikes["value"] > 3 * spikes["med"]).all()
    # clock skew: off-grid stamps only inside labelled spans
    secs = r["ts"].dt.epoch("s")
    off = r.filter((secs % 300) != 0).select("point", "ts")
    spans = lab.filter(pl.col("type") == "clock_skew").select("point", "start", "end")
    inside = off.join(spans, on="point").filter(
        (pl.col("ts") >= pl.col("start") - pl.duration(minutes=10))
        & (pl.col("ts") <= pl.col("end") + pl.duration(minutes=10))
    )
    assert len(off) > 0 and inside.select("point", "ts").unique().height == off.unique().height
    # gaps and communication loss: nothing from the point inside the span
    silent = lab.filter(pl.col("type").is_in(["gap", "comm_loss"])).select("point", "start", "end")
    leaked = r.join(silent, on="point").filter(
        (pl.col("ts") >= pl.col("start")) & (pl.col("ts") <= pl.col("end"))
    )
    assert leaked.is_empty()
    # a communication loss silences every point of the system at once
    comm = lab.filter(pl.col("type") == "comm_loss").with_columns(
        (pl.col("start") - pl.duration(seconds=1)).dt.truncate("15m").alias("lost_at")
    )
    for (system, _), grp in comm.group_by("system", "lost_at"):
        of_system = dataset.points.filter(pl.col("system_key") == system)["code"]
        assert set(grp["point"]) == set(of_system)
    # voltage sags and swells leave the ±10 % band; meter events are in the event list
    pts = dataset.points.select(pl.col("code").alias("point"), "nominal_voltage")
    for kind, test in (
        ("voltage_sag", lambda v, n: v < 0.9 * n),
        ("voltage_swell", lambda v, n: v > 1.1 * n),
    ):
        spans = lab.filter(pl.col("type") == kind).select("point", "start", "end")
        v = (
            r.filter(pl.col("quantity") == "voltage_l1")
            .join(spans, on="point")
            .filter((pl.col("ts") >= pl.col("start")) & (pl.col("ts") <= pl.col("end")))
            .join(pts, on="point")
        )
        assert len(v) and test(v["value"], v["nominal_voltage"]).all()
    band = r.filter(pl.col("quantity").str.starts_with("voltage")).join(pts, on="point")
    outside = band.filter(((pl.col("value") / pl.col("nominal_voltage")) - 1).abs() > 0.1)
    spans = lab.filter(pl.col("type").is_in(["voltage_sag", "voltage_swell", "power_loss"]))
    explained = outside.join(spans.select("point", "start", "end"), on="point").filter(
        (pl.col("ts") >= pl.col("start")) & (pl.col("ts") <= pl.col("end"))
    )
    assert len(outside) and explained.select("point", "quantity", "ts").unique().height == len(
        outside
    )
    for kind in ("power_loss", "cover_opened", "magnetic_field", "clock_set"):
        points = set(lab.filter(pl.col("type") == kind)["point"])
        assert points and points <= set(dataset.events.filter(pl.col("code") == kind)["point"])


def _energy_vs_register(r: pl.DataFrame, energy: str, register: str) -> pl.DataFrame:
    e = r.filter(pl.col("quantity") == energy).select("point", "ts", pl.col("value").alias("e"))
    g = r.filter(pl.col("quantity") == register).select("point", "ts", pl.col("value").alias("reg"))
    g = g.sort("point", "ts").with_columns(
        pl.col("reg").shift(1).over("point").alias("prev"),
        pl.col("ts").shift(1).over("point").alias("prev_ts"),
    )
    both = e.join(g, on=["point", "ts"]).join(
        r.filter(pl.col("quantity") == energy)
        .group_by("point")
        .agg(pl.col("ts").diff().min().alias("step")),
        on="point",
    )
    return both.filter(pl.col("ts") - pl.col("prev_ts") == pl.col("step"))


def test_interval_energy_equals_register_delta_except_where_labelled(dataset: Dataset) -> None:
    r, lab = dataset.readings, dataset.labels
    ok_rows = 0
    for energy in ("active_import", "active_export"):
        both = _energy_vs_register(r, energy, f"{energy}_register")
        bad = both.filter((pl.col("reg") - pl.col("prev") - pl.col("e")).abs() > 5e-4)
        ok_rows += len(both) - len(bad)
        explained = lab.filter(
            pl.col("type").is_in(["spike", "negative", "duplicate"])
            & (pl.col("quantity") == energy)
            | (pl.col("type") == "rollover") & (pl.col("quantity") == f"{energy}_register")
        ).select("point", pl.col("start").alias("ts"))
        unexplained = bad.join(explained, on=["point", "ts"], how="anti")
        assert unexplained.is_empty(), unexplained.head()
        rollovers = lab.filter(
            (pl.col("type") == "rollover") & (pl.col("quantity") == f"{energy}_register")
        )
        rolled = both.join(
            rollovers.select("point", pl.col("start").alias("ts")), on=["point", "ts"]
        )
        assert (rolled["reg"] < rolled["prev"]).all()
    assert ok_rows > 50_000
    # tariff zone registers add up to the total register
    t = r.filter(pl.col("quantity").str.starts_with("active_import_register"))
    wide = t.pivot("quantity", index=["point", "ts"], values="value").drop_nulls()
    total = (
        wide["active_import_register:t1"]
        + wide["active_import_register:t2"]
        + wide["active_import_register:t3"]
    )
    rolled = set(lab.filter(pl.col("type") == "rollover")["point"])
    fine = ~wide["point"].is_in(list(rolled))
    assert (
        len(wide) > 1000
        and ((total - wide["active_import_register"]).abs().filter(fine) < 1e-3).all()
    )


def test_units_are_the_vocabulary_s_and_heat_energy_matches_flow_and_temperatures(
    dataset: Dataset,
) -> None:
    r = dataset.readings
    for (q, unit), _ in r.group_by("quantity", "unit"):
        quantity = resolve_quantity(q)
        assert quantity is not None and unit_factor(quantity, unit) is not None, (q, unit)
    wide = r.filter(pl.col("quantity").is_in(["heat_energy", "coolant_mass_supply", "temp_supply", "temp_return"])
                    & (pl.col("unit") != "GJ")).pivot("quantity", index=["point", "ts"], values="value", aggregate_function="first").drop_nulls()  # fmt: skip
    calc = wide["coolant_mass_supply"] * (wide["temp_supply"] - wide["temp_return"]) / 1000
    big = wide["heat_energy"] > 0.05
    rel = ((calc - wide["heat_energy"]).abs() / wide["heat_energy"]).filter(big)
    assert len(rel) > 100 and rel.median() < 0.01


def test_heat_demand_rises_when_it_is_colder() -> None:
    system = build(400, 3, date(2026, 4, 30))
    heat = np.flatnonzero(system.p_role >= 4)
    rows = []
    for first in (date(2026, 1, 19), date(2026, 4, 6), date(2026, 7, 13)):
        sim = Simulation(system, seed=3, start=first, rates=Rates().scaled(0))
        for k in range(2):
            d = sim.day(first + timedelta(days=k))
            r = d.readings
            m = r.quantity == Q["heat_power"]
            pts, vals = r.point[m], r.value[m]
            scale = np.where(system.p_scale[pts], 4.1868, 1.0)
            per_point = np.bincount(pts, vals / scale, minlength=system.n_points)[heat]
            t = local_midnight(d.day) + 3600 * np.arange(24)
            temp = np.array(
                [sim.weather.temperature(np.full(24, system.p_region[p]), t).mean() for p in heat]
            )
            rows.append((temp, per_point / system.p_base[heat]))
    temp = np.concatenate([x[0] for x in rows])
    load = np.concatenate([x[1] for x in rows])
    rank = lambda a: np.argsort(np.argsort(a))  # noqa: E731
    rho = np.corrcoef(rank(temp), rank(load))[0, 1]
    assert rho < -0.8
    assert load[temp < -15].mean() > 3 * load[temp > 20].mean()


def test_load_follows_the_day_the_week_and_holidays() -> None:
    system = build(600, 5, date(2026, 3, 31))
    sim = Simulation(system, seed=5, start=date(2026, 3, 20), rates=Rates().scaled(0))
    from egsu.simulator.model import COM, RES

    def energy(d: date, cls: int, hours: tuple[int, int]) -> float:
        r = sim.day(d).readings
        t0 = local_midnight(d)
        m = (r.quantity == Q["active_import"]) & (system.p_class[r.point] == cls)
        m &= (r.t_nom > t0 + hours[0] * 3600) & (r.t_nom <= t0 + hours[1] * 3600)
        return float(r.value[m].sum())

    # 20 March (Friday) is a working day, 21–25 March are Nauryz holidays, 26 March is a Thursday
    assert energy(date(2026, 3, 20), RES, (19, 22)) > 1.3 * energy(date(2026, 3, 20), RES, (2, 5))
    assert energy(date(2026, 3, 20), COM, (10, 16)) > 1.5 * energy(date(2026, 3, 21), COM, (10, 16))
    assert energy(date(2026, 3, 22), COM, (10, 16)) < 0.7 * energy(date(2026, 3, 26), COM, (10, 16))


def test_any_window_gives_the_same_readings_as_the_whole_day() -> None:
    system = build(200, 9, START)
    a = Simulation(system, seed=9, start=START)
    b = Simulation(system, seed=9, start=START)
    day2 = START + timedelta(days=1)
    whole = a.day(day2).readings  # fast-forwards through the first day
    t0 = local_midnight(day2)
    part, _ = window(b, t0 + 10 * 3600, t0 + 11 * 3600)
    m = (whole.t_nom > t0 + 10 * 3600) & (whole.t_nom <= t0 + 11 * 3600)
    assert len(part) == int(m.sum()) > 0
    order = np.lexsort((part.quantity, part.point, part.t_nom))
    assert np.array_equal(part.value[order], whole.value[m])
    assert np.array_equal(part.ts[order], whole.ts[m])


def test_a_large_system_keeps_the_geography() -> None:
    system = build(20_000, 1, START)
    f = pl.DataFrame(
        {"type": system.facilities["type"], "region": system.facilities["region_kato"]}
    )

    def share(t: str, regions: list[str]) -> float:
        return float(f.filter(pl.col("type") == t)["region"].str.slice(0, 2).is_in(regions).mean())  # type: ignore[arg-type]

    assert share("tpp", ["55", "35", "31", "15", "27"]) == 1.0
    assert share("hpp", ["63", "19", "33", "10", "79", "61", "31", "75"]) == 1.0
    assert share("wpp", ["31", "19", "33", "61", "79", "43"]) > 0.7
    assert share("spp", ["61", "31", "43", "19", "33", "79", "75", "47"]) == 1.0
    assert set(f.filter(pl.col("type") == "boiler_house")["region"]) == set(KATOS)
    assert len(set(system.bins)) == len(system.bins)


def test_80020_files_in_both_encodings_hold_the_same_energy(tmp_path: Path) -> None:
    from egsu.ingest.exchange80020 import parse

    common = ["--points", "120", "--days", "1", "--start", "2026-01-12", "--format", "80020"]
    _run(*common, "--out", str(tmp_path / "a"))
    _run(*common, "--encoding", "utf-8", "--out", str(tmp_path / "b"))
    a = sorted((tmp_path / "a" / "80020" / "2026-01-12").glob("*.xml"))
    b = sorted((tmp_path / "b" / "80020" / "2026-01-12").glob("*.xml"))
    assert [f.name for f in a] == [f.name for f in b] and a
    assert a[0].read_bytes().startswith(b'<?xml version="1.0" encoding="windows-1251"?>')
    total = 0.0
    for fa, fb in zip(a, b, strict=True):
        ma, mb = parse(fa.read_bytes()), parse(fb.read_bytes())
        assert ma.sender_name == mb.sender_name and ma.value.tolist() == mb.value.tolist()
        assert {c.code for c in ma.channels} <= {"01", "02", "03", "04"}
        total += float(ma.value[[ma.channels[c].code == "01" for c in ma.channel]].sum())
    system = build(120, 1, date(2026, 1, 12))
    sim = Simulation(system, seed=1, start=date(2026, 1, 12), rates=Rates())
    r = sim.day(date(2026, 1, 12)).readings
    imp = r.quantity == Q["active_import"]
    assert total == pytest.approx(float(r.value[imp].sum()), rel=1e-6)  # kWh, every point
