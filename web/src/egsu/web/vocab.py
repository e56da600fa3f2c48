"""Names for people of the System's codes (quantities, kinds, types), marked for translation."""

from __future__ import annotations

from egsu.contracts.vocabulary import QUANTITIES, resolve_quantity
from egsu.web.i18n import N_, Lang

QUANTITY_NAMES = {
    "active_import": N_("Active energy, import"),
    "active_export": N_("Active energy, export"),
    "reactive_import": N_("Reactive energy, import"),
    "reactive_export": N_("Reactive energy, export"),
    "active_import_register": N_("Active energy register, import"),
    "active_export_register": N_("Active energy register, export"),
    "active_power": N_("Active power"),
    "reactive_power": N_("Reactive power"),
    "voltage_l1": N_("Voltage, phase L1"),
    "voltage_l2": N_("Voltage, phase L2"),
    "voltage_l3": N_("Voltage, phase L3"),
    "current_l1": N_("Current, phase L1"),
    "current_l2": N_("Current, phase L2"),
    "current_l3": N_("Current, phase L3"),
    "frequency": N_("Frequency"),
    "heat_energy": N_("Heat energy"),
    "heat_power": N_("Heat power"),
    "coolant_volume": N_("Coolant volume"),
    "coolant_volume_supply": N_("Coolant volume, supply"),
    "coolant_volume_return": N_("Coolant volume, return"),
    "coolant_mass": N_("Coolant mass"),
    "coolant_mass_supply": N_("Coolant mass, supply"),
    "coolant_mass_return": N_("Coolant mass, return"),
    "temp_supply": N_("Temperature, supply"),
    "temp_return": N_("Temperature, return"),
    "pressure_supply": N_("Pressure, supply"),
    "pressure_return": N_("Pressure, return"),
}

TERMS = {
    # subject kinds
    "generation": N_("Generation"),
    "transmission": N_("Transmission"),
    "distribution": N_("Distribution"),
    "heat_supply": N_("Heat supply"),
    "energy_supply": N_("Energy supply"),
    "large_consumer": N_("Large consumer"),
    "fuel": N_("Fuel"),
    # legal forms
    "jsc": N_("Joint-stock company"),
    "llp": N_("Limited liability partnership"),
    "state_enterprise": N_("State enterprise"),
    "individual_entrepreneur": N_("Individual entrepreneur"),
    "branch": N_("Branch"),
    "other": N_("Other"),
    # facility types
    "tpp": N_("Thermal power plant"),
    "chp": N_("Combined heat and power plant"),
    "hpp": N_("Hydro power plant"),
    "wpp": N_("Wind power plant"),
    "spp": N_("Solar power plant"),
    "gas_turbine": N_("Gas turbine plant"),
    "boiler_house": N_("Boiler house"),
    "substation": N_("Substation"),
    "power_line": N_("Power line"),
    "heat_network": N_("Heat network"),
    "consumer_site": N_("Consumer site"),
    # commodities and positions
    "electricity": N_("Electricity"),
    "heat": N_("Heat"),
    "interchange": N_("Interchange"),
    "consumption": N_("Consumption"),
    "own_needs": N_("Own needs"),
    # devices
    "electricity_meter": N_("Electricity meter"),
    "heat_meter": N_("Heat meter"),
    "current_transformer": N_("Current transformer"),
    "voltage_transformer": N_("Voltage transformer"),
    "flow_meter": N_("Flow meter"),
    "data_concentrator": N_("Data concentrator"),
    # registry entities
    "subject": N_("Subject"),
    "facility": N_("Facility"),
    "metering_point": N_("Metering point"),
    "device": N_("Device"),
    "system": N_("System"),
    "create": N_("create"),
    "update": N_("change"),
    # sources
    "csv": N_("CSV file"),
    "80020": N_("80020 file"),
    "rest": N_("API"),
    "telemetry": N_("telemetry"),
    "document": N_("signed document"),
    "simulator": N_("simulator"),
    # origins
    "actual": N_("measured"),
    "estimated": N_("estimated"),
    "edited": N_("edited"),
    # why ingest rejected a reading
    "malformed": N_("the row is malformed"),
    "missing": N_("a required value is missing"),
    "foreign_point": N_("the metering point belongs to another company"),
    "unknown_point": N_("unknown metering point"),
    "inactive_point": N_("the metering point is not active"),
    "misaligned": N_("the time is not on the point's interval grid"),
    "quantity_not_measured": N_("the point does not measure this quantity"),
    "unknown_quantity": N_("unknown quantity"),
    "unknown_unit": N_("unknown or wrong unit"),
    "invalid_timestamp": N_("invalid time (give it with its offset)"),
    "invalid_value": N_("invalid value"),
    "unknown_code": N_("no metering point has this 80020 code"),
    "unknown_channel": N_("the channel is not in the point's channel map"),
    "invalid_period": N_("invalid period (start, end or summer flag)"),
    "period_off_grid": N_("the period does not match the point's interval"),
    "invalid_status": N_("invalid status of the value"),
    # audit kinds and outcomes
    "audit.access": N_("access"),
    "audit.auth": N_("authentication"),
    "audit.change": N_("change"),
    "audit.control": N_("control"),
    "audit.security": N_("security"),
    "audit.abnormal": N_("abnormal situation"),
    "outcome.success": N_("success"),
    "outcome.denied": N_("denied"),
    "outcome.failure": N_("failure"),
    # alarm severities
    "critical": N_("critical"),
    "major": N_("major"),
    "minor": N_("minor"),
    "warning": N_("warning"),
    "info": N_("information"),
}


def quantity_name(L: Lang, code: str) -> str:
    base, _, tariff = code.partition(":")
    name = L.gettext(QUANTITY_NAMES.get(base, base))
    return f"{name} ({tariff.upper()})" if tariff else name


def term(L: Lang, code: str | None) -> str:
    if code is None:
        return "—"
    return L.gettext(TERMS[code]) if code in TERMS else code


def adds_up(code: str) -> bool:
    """Energy per interval adds up in a bucket; instant values are averaged."""
    q = resolve_quantity(code)
    return q is not None and q.kind == "interval"


def unit_of(code: str) -> str:
    q = resolve_quantity(code)
    return QUANTITIES[q.code].unit if q else ""
