"""Kazakhstan's 17 regions and 3 cities of republican significance with their KATO codes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Region:
    kato: str
    name_ru: str
    name_kk: str
    name_en: str
    kind: str  # region | city

    def name(self, lang: str) -> str:
        return {"ru": self.name_ru, "kk": self.name_kk}.get(lang, self.name_en)


REGIONS: tuple[Region, ...] = (
    Region("100000000", "Абайская область", "Абай облысы", "Abai Region", "region"),
    Region("110000000", "Акмолинская область", "Ақмола облысы", "Akmola Region", "region"),
    Region("150000000", "Актюбинская область", "Ақтөбе облысы", "Aktobe Region", "region"),
    Region("190000000", "Алматинская область", "Алматы облысы", "Almaty Region", "region"),
    Region("230000000", "Атырауская область", "Атырау облысы", "Atyrau Region", "region"),
    Region(
        "270000000",
        "Западно-Казахстанская область",
        "Батыс Қазақстан облысы",
        "West Kazakhstan Region",
        "region",
    ),
    Region("310000000", "Жамбылская область", "Жамбыл облысы", "Jambyl Region", "region"),
    Region("330000000", "Область Жетісу", "Жетісу облысы", "Jetisu Region", "region"),
    Region("350000000", "Карагандинская область", "Қарағанды облысы", "Karaganda Region", "region"),
    Region("390000000", "Костанайская область", "Қостанай облысы", "Kostanay Region", "region"),
    Region("430000000", "Кызылординская область", "Қызылорда облысы", "Kyzylorda Region", "region"),
    Region("470000000", "Мангистауская область", "Маңғыстау облысы", "Mangystau Region", "region"),
    Region("550000000", "Павлодарская область", "Павлодар облысы", "Pavlodar Region", "region"),
    Region(
        "590000000",
        "Северо-Казахстанская область",
        "Солтүстік Қазақстан облысы",
        "North Kazakhstan Region",
        "region",
    ),
    Region("610000000", "Туркестанская область", "Түркістан облысы", "Turkistan Region", "region"),
    Region("620000000", "Область Ұлытау", "Ұлытау облысы", "Ulytau Region", "region"),
    Region(
        "630000000",
        "Восточно-Казахстанская область",
        "Шығыс Қазақстан облысы",
        "East Kazakhstan Region",
        "region",
    ),
    Region("710000000", "город Астана", "Астана қаласы", "Astana", "city"),
    Region("750000000", "город Алматы", "Алматы қаласы", "Almaty", "city"),
    Region("790000000", "город Шымкент", "Шымкент қаласы", "Shymkent", "city"),
)
REGIONS_BY_KATO: dict[str, Region] = {r.kato: r for r in REGIONS}
