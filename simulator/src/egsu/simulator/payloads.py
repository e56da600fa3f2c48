"""The registry API's request bodies for the generated system (shapes of egsu.registry.schemas)."""

from __future__ import annotations

from typing import Any

from egsu.simulator.model import EnergySystem


def subject(s: EnergySystem, i: int) -> dict[str, Any]:
    x = s.subjects
    return {
        "bin": x["bin"][i],
        "name_ru": x["name_ru"][i],
        "name_kk": x["name_kk"][i],
        "name_en": x["name_en"][i],
        "legal_form": x["legal_form"][i],
        "kind": x["kind"][i],
        "region_kato": x["region_kato"][i],
        "address": x["address"][i],
        "contacts": {"email": x["email"][i], "phone": x["phone"][i]},
    }


def facility(s: EnergySystem, i: int) -> dict[str, Any]:
    x = s.facilities
    body = {
        "subject_bin": x["subject_bin"][i],
        "name_ru": x["name_ru"][i],
        "name_kk": x["name_kk"][i],
        "type": x["type"][i],
        "region_kato": x["region_kato"][i],
        "installed_electric_mw": x["installed_electric_mw"][i],
        "installed_heat_gcal_h": x["installed_heat_gcal_h"][i],
        "voltage_kv": x["voltage_kv"][i],
        "latitude": x["latitude"][i],
        "longitude": x["longitude"][i],
        "criticality": x["criticality"][i],
    }
    return {k: v for k, v in body.items() if v is not None}


def metering_point(s: EnergySystem, i: int, facility_id: str) -> dict[str, Any]:
    x = s.points
    norms: dict[str, Any] = {}
    if x["daily_norm_kwh"][i] is not None:
        norms["daily_energy_kwh"] = x["daily_norm_kwh"][i]
    if x["daily_norm_gcal"][i] is not None:
        norms["heat_daily_gcal"] = x["daily_norm_gcal"][i]
    body = {
        "code": x["code"][i],
        "name": x["name"][i],
        "facility_id": facility_id,
        "subject_bin": x["subject_bin"][i],
        "commodity": x["commodity"][i],
        "position": x["position"][i],
        "quantities": x["quantities"][i],
        "units": x["units"][i],
        "interval_min": x["interval_min"][i],
        "nominal_voltage": x["nominal_voltage"][i],
        "rated_current": x["rated_current"][i],
        "max_power_kw": x["max_power_kw"][i],
        "register_digits": x["register_digits"][i],
        "import_only": x["import_only"][i],
        "tariff_zones": x["tariff_zones"][i],
        "norms": norms,
        "code_80020": x["code_80020"][i],
    }
    return {k: v for k, v in body.items() if v is not None}


def device(s: EnergySystem, i: int, point_id: str | None) -> dict[str, Any]:
    x = s.devices
    return {
        "subject_bin": x["subject_bin"][i],
        "point_id": point_id,
        "type": x["type"][i],
        "manufacturer": x["manufacturer"][i],
        "model": x["model"][i],
        "serial_number": x["serial_number"][i],
        "state_register_no": x["state_register_no"][i],
        "verification_date": x["verification_date"][i].isoformat(),
        "verification_interval_months": x["verification_interval_months"][i],
        "firmware_version": x["firmware_version"][i],
        "installed_at": x["installed_at"][i].isoformat(),
    }


def system(s: EnergySystem, i: int, facility_ids: list[str]) -> dict[str, Any]:
    x = s.systems
    return {
        "subject_bin": x["subject_bin"][i],
        "kind": x["kind"][i],
        "name": x["name"][i],
        "vendor": x["vendor"][i],
        "protocol": x["protocol"][i],
        "channels": x["channels"][i],
        "facility_ids": facility_ids,
    }


def obligation(s: EnergySystem, i: int, facility_id: str | None) -> dict[str, Any]:
    x = s.obligations
    body = {
        "subject_bin": x["subject_bin"][i],
        "data_kind": x["data_kind"][i],
        "facility_id": facility_id,
        "interval_min": x["interval_min"][i],
        "deadline_min": x["deadline_min"][i],
        "valid_from": x["valid_from"][i].isoformat(),
        "note": x["note"][i],
    }
    return {k: v for k, v in body.items() if v is not None}
