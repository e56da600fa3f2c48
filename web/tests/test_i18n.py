"""The console's languages: complete catalogues, compiled files in step, formatting per locale."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from egsu.web.i18n import LOCALE_DIR, Lang

WEB = Path(__file__).resolve().parents[1]


def _extract() -> set[str]:
    """The message ids the code and the templates use (the same rules as babel.cfg)."""
    keywords = {**DEFAULT_KEYWORDS, "N_": None, "ngettext": (1, 2)}
    found = extract_from_dir(
        str(WEB),
        method_map=[("src/**.py", "python"), ("src/**/templates/**.html", "jinja2")],
        keywords=keywords,
    )
    return {msg if isinstance(msg, str) else msg[0] for _, _, msg, _, _ in found}


def test_every_message_of_the_interface_is_translated_to_russian_and_kazakh() -> None:
    used = _extract()
    assert len(used) > 300
    for lang in ("ru", "kk"):
        with open(LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
            catalog = read_po(f)
        translated = {
            (m.id if isinstance(m.id, str) else m.id[0])
            for m in catalog
            if m.id and (all(m.string) if isinstance(m.string, tuple) else m.string) and not m.fuzzy
        }
        missing = sorted(used - translated)
        assert not missing, f"{lang}: not translated: {missing[:20]}"


def test_compiled_catalogues_match_their_sources() -> None:
    for lang in ("ru", "kk"):
        d = LOCALE_DIR / lang / "LC_MESSAGES"
        with open(d / "messages.po", "rb") as f:
            po = {_key(m.id): _key(m.string) for m in read_po(f) if m.id}
        with open(d / "messages.mo", "rb") as f:
            mo = {_key(m.id): _key(m.string) for m in read_mo(f) if m.id}
        assert po == mo, f"{lang}: run pybabel compile (see web/README.md)"


def test_numbers_dates_and_units_follow_the_language() -> None:
    t = datetime(2026, 1, 15, 5, 30, tzinfo=UTC)  # 10:30 in Kazakhstan
    ru, kk, en = Lang("ru"), Lang("kk"), Lang("en")
    assert ru.energy(1_234_567) == "1,23\u00a0ГВт·ч"
    assert kk.energy(1_234_567) == "1,23\u00a0ГВт·сағ"
    assert en.energy(1_234_567) == "1.23\u00a0GWh"
    assert ru.number(1234567.891, 1) == "1\u00a0234\u00a0567,9"
    assert en.number(1234567.891, 1) == "1,234,567.9"
    assert ru.datetime(t) == "15.01.2026 10:30"
    assert ru.percent(0.987) == "98,7\u00a0%"
    assert en.percent(0.987) == "98.7%"
    assert ru.gettext("Overview") == "Обзор" and kk.gettext("Overview") == "Шолу"
    assert en.gettext("Overview") == "Overview"
    assert ru.ngettext(
        "%(num)d company late or incomplete", "%(num)d companies late or incomplete", 5
    ).startswith("5 компаний")


def _key(v: object) -> object:
    return tuple(v) if isinstance(v, list | tuple) else v
