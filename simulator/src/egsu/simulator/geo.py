"""Kazakhstan's regions as the simulator sees them: main city, coordinates, people, climate.

Climate figures are rounded long-term normals of each region's main city: the annual mean, the
half-range between the January and July means, and the typical day-night half-range. They drive the
synthetic outdoor temperature; cold snaps and heat waves come from the synoptic terms in weather.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egsu.contracts.regions import REGIONS


@dataclass(frozen=True, slots=True)
class Place:
    kato: str
    city_ru: str
    city_kk: str
    lat: float
    lon: float
    people_m: float  # population, millions
    t_mean: float  # annual mean temperature, °C
    t_season: float  # half of July mean minus January mean, °C
    t_day: float  # half of the typical daily range, °C


PLACES: dict[str, Place] = {
    p.kato: p
    for p in (
        Place("100000000", "Семей", "Семей", 50.41, 80.23, 0.61, 3.5, 19.0, 6.5),
        Place("110000000", "Кокшетау", "Көкшетау", 53.28, 69.39, 0.79, 2.5, 18.5, 6.0),
        Place("150000000", "Актобе", "Ақтөбе", 50.28, 57.17, 0.92, 5.0, 18.0, 6.5),
        Place("190000000", "Конаев", "Қонаев", 43.87, 77.07, 1.50, 9.5, 15.5, 7.0),
        Place("230000000", "Атырау", "Атырау", 47.11, 51.92, 0.69, 9.5, 17.0, 6.0),
        Place("270000000", "Уральск", "Орал", 51.23, 51.37, 0.69, 6.0, 17.0, 6.0),
        Place("310000000", "Тараз", "Тараз", 42.90, 71.37, 1.21, 10.0, 14.0, 7.5),
        Place("330000000", "Талдыкорган", "Талдықорған", 45.02, 78.37, 0.70, 8.0, 16.0, 7.0),
        Place("350000000", "Караганда", "Қарағанды", 49.81, 73.09, 1.13, 3.5, 17.0, 6.0),
        Place("390000000", "Костанай", "Қостанай", 53.21, 63.63, 0.83, 3.5, 19.0, 6.0),
        Place("430000000", "Кызылорда", "Қызылорда", 44.85, 65.51, 0.84, 10.5, 18.0, 7.5),
        Place("470000000", "Актау", "Ақтау", 43.65, 51.17, 0.77, 12.0, 13.5, 4.5),
        Place("550000000", "Павлодар", "Павлодар", 52.29, 76.97, 0.75, 3.5, 19.5, 6.0),
        Place("590000000", "Петропавловск", "Петропавл", 54.87, 69.15, 0.53, 2.0, 19.0, 5.5),
        Place("610000000", "Туркестан", "Түркістан", 43.30, 68.25, 2.10, 12.5, 15.5, 8.0),
        Place("620000000", "Жезказган", "Жезқазған", 47.78, 67.71, 0.22, 6.0, 19.5, 7.0),
        Place("630000000", "Усть-Каменогорск", "Өскемен", 49.95, 82.61, 0.72, 3.5, 19.0, 6.0),
        Place("710000000", "Астана", "Астана", 51.17, 71.43, 1.42, 3.0, 18.5, 6.0),
        Place("750000000", "Алматы", "Алматы", 43.24, 76.89, 2.23, 10.0, 14.0, 6.5),
        Place("790000000", "Шымкент", "Шымкент", 42.32, 69.59, 1.22, 13.0, 14.5, 7.5),
    )
}
KATOS: tuple[str, ...] = tuple(r.kato for r in REGIONS)
assert set(KATOS) == set(PLACES)

LAT = np.array([PLACES[k].lat for k in KATOS])
LON = np.array([PLACES[k].lon for k in KATOS])
PEOPLE = np.array([PLACES[k].people_m for k in KATOS])
T_MEAN = np.array([PLACES[k].t_mean for k in KATOS])
T_SEASON = np.array([PLACES[k].t_season for k in KATOS])
T_DAY = np.array([PLACES[k].t_day for k in KATOS])
# Heating design temperature (the coldest five days), roughly the January mean minus 15 °C.
T_DESIGN = T_MEAN - T_SEASON - 15.0


def weights(table: dict[str, float], default: float = 0.0) -> np.ndarray:
    """Region weights in KATOS order from a {kato prefix: weight} table, normalised to 1."""
    w = np.array([table.get(k[:3], default) for k in KATOS], dtype=float)
    return w / w.sum()


_COLD = np.clip((12.0 - T_MEAN) / 9.0, 0.3, 1.5)

# Where each kind of facility stands: coal in the north and centre (Pavlodar, Ekibastuz,
# Karaganda), hydro in the east and south-east, wind and sun in the south, gas in the west,
# boiler houses and substations wherever people live.
REGION_WEIGHTS: dict[str, np.ndarray] = {
    "tpp": weights({"550": 5, "350": 2, "310": 1, "150": 0.5, "270": 0.3}),
    "chp": weights(
        {
            "550": 3,
            "350": 3,
            "710": 2,
            "590": 1.5,
            "390": 1.5,
            "630": 1.5,
            "100": 1.2,
            "110": 1,
            "750": 2,
            "150": 1,
            "270": 0.5,
            "230": 0.8,
            "470": 0.6,
            "790": 1,
            "310": 0.5,
            "430": 0.5,
            "620": 0.8,
            "190": 0.3,
            "330": 0.3,
            "610": 0.2,
        }
    ),
    "hpp": weights(
        {"630": 5, "190": 3, "330": 2, "100": 1, "790": 0.5, "610": 1, "310": 0.5, "750": 0.5}
    ),
    "wpp": weights(
        {
            "310": 3,
            "190": 3,
            "330": 2.5,
            "610": 2,
            "110": 1.5,
            "790": 0.5,
            "430": 0.5,
            "470": 1,
            "150": 0.5,
            "620": 0.3,
        }
    ),
    "spp": weights(
        {"610": 3, "310": 2.5, "430": 2.5, "190": 2, "330": 1.5, "790": 1, "750": 0.3, "470": 0.5}
    ),
    "gas_turbine": weights({"230": 3, "470": 3, "270": 2, "150": 2, "430": 1, "620": 0.3}),
    "boiler_house": (PEOPLE * _COLD) / (PEOPLE * _COLD).sum(),
    "substation": (PEOPLE + 0.3) / (PEOPLE + 0.3).sum(),
    "power_line": (PEOPLE + 0.6) / (PEOPLE + 0.6).sum(),
    "heat_network": (PEOPLE * _COLD) / (PEOPLE * _COLD).sum(),
    "consumer_site": weights(
        {
            "550": 3,
            "350": 3,
            "630": 2.5,
            "150": 2,
            "390": 1.5,
            "230": 1.5,
            "470": 1,
            "620": 1.5,
            "100": 1,
            "790": 0.8,
            "750": 0.8,
            "710": 0.8,
            "310": 0.8,
            "430": 0.5,
            "270": 0.7,
            "110": 0.7,
            "590": 0.4,
            "190": 0.5,
            "330": 0.3,
            "610": 0.5,
        }
    ),
}
