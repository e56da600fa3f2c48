"""The registry's closed vocabularies, with names for people in ru/kk/en."""

from __future__ import annotations

from enum import StrEnum


class SubjectKind(StrEnum):
    generation = "generation"
    transmission = "transmission"
    distribution = "distribution"
    heat_supply = "heat_supply"
    energy_supply = "energy_supply"
    large_consumer = "large_consumer"
    fuel = "fuel"


class LegalForm(StrEnum):
    jsc = "jsc"  # акционерное общество, АО
    llp = "llp"  # товарищество с ограниченной ответственностью, ТОО
    state_enterprise = "state_enterprise"  # ГКП / РГП
    individual_entrepreneur = "individual_entrepreneur"  # ИП
    branch = "branch"
    other = "other"


class Status(StrEnum):
    active = "active"
    suspended = "suspended"
    liquidated = "liquidated"


class FacilityType(StrEnum):
    tpp = "tpp"  # thermal (condensing) power plant, ГРЭС
    chp = "chp"  # combined heat and power, ТЭЦ
    hpp = "hpp"
    wpp = "wpp"
    spp = "spp"
    gas_turbine = "gas_turbine"
    boiler_house = "boiler_house"
    substation = "substation"
    power_line = "power_line"
    heat_network = "heat_network"
    consumer_site = "consumer_site"
    other = "other"


GENERATING = frozenset(
    {
        FacilityType.tpp,
        FacilityType.chp,
        FacilityType.hpp,
        FacilityType.wpp,
        FacilityType.spp,
        FacilityType.gas_turbine,
        FacilityType.boiler_house,
    }
)


class Commodity(StrEnum):
    electricity = "electricity"
    heat = "heat"


class Position(StrEnum):
    generation = "generation"
    interchange = "interchange"
    consumption = "consumption"
    own_needs = "own_needs"


class DeviceType(StrEnum):
    electricity_meter = "electricity_meter"
    heat_meter = "heat_meter"
    current_transformer = "current_transformer"
    voltage_transformer = "voltage_transformer"
    flow_meter = "flow_meter"
    data_concentrator = "data_concentrator"


class DeviceStatus(StrEnum):
    active = "active"
    inactive = "inactive"
    decommissioned = "decommissioned"


class SystemKind(StrEnum):
    askue = "askue"
    scada = "scada"


class ChecklistStatus(StrEnum):
    met = "met"
    partial = "partial"
    not_met = "not_met"
    not_applicable = "not_applicable"
    unknown = "unknown"


# How often a facility of each criticality class reports (§31): the longest allowed interval and how
# many missed intervals make its points inactive.
CRITICALITY = {
    1: {"max_interval_min": 5, "inactive_after_intervals": 2},
    2: {"max_interval_min": 15, "inactive_after_intervals": 3},
    3: {"max_interval_min": 60, "inactive_after_intervals": 4},
}
INTERVALS_MIN = (1, 3, 5, 10, 15, 30, 60, 1440)

# Technical requirements of chapters 9–15 of the Rules, for a subject's ASKUE/SCADA checklist.
REQUIREMENTS: tuple[tuple[str, str, str], ...] = (
    (
        "§49",
        "askue,scada",
        "Information security per the Unified Requirements and ST RK IEC 62443-3-3",
    ),
    (
        "§51",
        "askue,scada",
        "Uninterruptible power supply, communication channels and servers for collection",
    ),
    (
        "§56",
        "askue,scada",
        "Data exchange over protected channels; complete, reliable and timely data",
    ),
    ("§59", "askue", "Meters, sensors, controllers, servers and channels certified"),
    ("§60", "askue", "Automatic transfer to the System in real time or at set intervals"),
    ("§61", "askue", "Uninterrupted operation and backup archiving"),
    ("§62", "askue", "Meter state shown (active/inactive), automatic and manual reading"),
    ("§64", "scada", "Emergency and abnormal events recorded and transferred to the System"),
    (
        "§66",
        "scada",
        "Access control, user authentication, protection of transferred and stored data",
    ),
    ("§67", "scada", "Availability of at least 99 %"),
    ("§68", "scada", "Standard open exchange protocols"),
    ("§69", "scada", "Journals of control, access, settings changes and abnormal situations"),
    ("§70", "scada", "Safe updates with rollback"),
    (
        "§71",
        "scada",
        "Redundant channels, power and servers with automatic failover at high criticality",
    ),
    ("§72", "scada", "Operating documentation"),
    ("§73", "askue", "Servers available at least 99 %, scalable"),
    ("§74", "askue", "Redundant power, disks and channels; regular backup and recovery"),
    ("§78", "askue,scada", "Instruments protected against tampering"),
    ("§83", "askue,scada", "Reserve channels and data kept through outages"),
    ("§84", "askue,scada", "Channel quality monitored, automatic recovery after failures"),
    ("§85", "askue,scada", "Main and reserve channel with automatic switch-over"),
    ("§87", "askue", "Instruments in the State Register with valid verification"),
    ("§95", "askue", "Electricity meters: non-volatile memory, per-tariff energy with time stamps"),
    ("§96", "askue", "Heat meters: non-volatile memory with heat, coolant and time stamps"),
    ("§97", "askue", "Meters keep event journals and pass them on"),
)
