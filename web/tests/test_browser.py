"""The console in a real browser (Debian's Chromium, headless): login per role, language switch,
CSV upload with its receipt, and screenshots of the main screens in test-artifacts/."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from egsu.testing.stack import Stack
from egsu.testing.world import World, grid, kz

from .conftest import console_url

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [
    pytest.mark.stack,
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="browser tests skipped: no Chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--no-first-run",
            ],
        )
        try:
            yield b
        finally:
            b.close()


def sign_in(
    browser: object, stack: Stack, username: str, lang: str = "ru", width: int = 1440
) -> object:
    # the browser itself prefers English: the language comes from ?lang= alone
    ctx = browser.new_context(viewport={"width": width, "height": 900}, locale="en-US")  # type: ignore[attr-defined]
    page = ctx.new_page()
    page.goto(f"{console_url(stack)}/?lang={lang}")
    page.wait_for_selector("#username", timeout=10000) if page.locator(
        "#username"
    ).count() == 0 else None
    assert page.locator("#username").count(), page.url + "\n" + page.content()[:2000]
    page.fill("#username", username)
    page.fill("#password", "demo")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_ministry_overview_language_switch_and_screens(browser: object, stack: Stack) -> None:
    world = World(
        stack, interval_min=15, criticality=2, quantities=["active_import", "active_export"]
    )
    _seed(stack, world)
    page = sign_in(browser, stack, "ministry", "ru")
    assert page.locator("h1").first.inner_text() == "Обзор"
    assert page.locator("nav.mainnav").get_by_text("Реестр").is_visible()
    # the overview's roll-ups are shared for up to 20 s: the seeded hours appear within that
    for _ in range(30):
        if page.locator("#national-load").count():
            break
        page.wait_for_timeout(2000)
        page.reload()
    page.wait_for_selector("#national-load .main-svg", timeout=15000)
    shot(page, "overview-ru")
    page.click("nav.langs a[hreflang=kk]")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").first.inner_text() == "Шолу"
    shot(page, "overview-kk")
    page.goto(f"{console_url(stack)}/points/{world.point_code}")
    assert "Есепке алу нүктесі" in page.locator("h1").inner_text()  # the choice is remembered
    page.click("nav.langs a[hreflang=en]")
    page.wait_for_selector("#point-series .main-svg", timeout=15000)
    shot(page, "point-en")
    page.goto(f"{console_url(stack)}/regions/{world.region}")
    page.wait_for_load_state("networkidle")
    shot(page, "region-en")
    page.goto(f"{console_url(stack)}/registry")
    shot(page, "registry-en")
    _order_and_download_a_report(page, stack)
    page.goto(f"{console_url(stack)}/open")
    shot(page, "open-en")
    page.goto(f"{console_url(stack)}/forecast")
    assert (
        page.get_by_text("Not available yet").first.is_visible()
        or page.locator("#forecast").count()
    )
    page.context.close()


def test_subject_uploads_csv_in_the_browser_and_cannot_open_the_registry(
    browser: object, stack: Stack, tmp_path: Path
) -> None:
    world = World(stack, interval_min=15, criticality=2, quantities=["active_export"])
    page = sign_in(browser, stack, world.user, "kk", width=1024)  # a tablet in landscape
    assert page.url.split("?")[0].endswith("/cabinet")
    assert page.locator("h1").first.inner_text() == "Менің кабинетім"  # ?lang=kk survived the login
    assert page.locator("nav.mainnav").get_by_text("Тізілім").count() == 0
    ends = grid(datetime.now(UTC) - timedelta(hours=3), 6, 15)
    csv = tmp_path / "readings.csv"
    csv.write_text(
        "point,quantity,ts,value,unit\n"
        + "\n".join(
            f"{world.point_code},active_export,{kz(t)},{50 + i},kWh" for i, t in enumerate(ends)
        )
    )
    page.set_input_files("#csv-file", str(csv))
    page.click("form.upload button[type=submit]")
    page.wait_for_url("**/receipts/**")
    assert page.locator("#accepted").inner_text() == "6"
    shot(page, "receipt-kk")
    page.goto(f"{console_url(stack)}/cabinet")
    shot(page, "cabinet-kk")
    resp = page.goto(f"{console_url(stack)}/registry")
    assert resp.status == 403
    assert "Қолжетімділік жоқ" in page.locator("h1").inner_text()
    shot(page, "forbidden-kk")
    page.context.close()


def _seed(stack: Stack, world: World) -> None:
    """Two days of hourly-ish readings for the world's point, so charts have something to draw."""
    ends = grid(datetime.now(UTC) - timedelta(days=2), 4 * 48 - 2, 15)
    readings = []
    for i, t in enumerate(ends):
        base = 800 + 300 * ((i % 96) / 96)
        readings.append(
            {"point": world.point_code, "quantity": "active_export", "ts": kz(t), "value": base}
        )
        readings.append(
            {
                "point": world.point_code,
                "quantity": "active_import",
                "ts": kz(t),
                "value": base * 0.6,
            }
        )
    with stack.sync_client(world.user) as c:
        r = c.post("/api/v1/ingest/readings", json={"readings": readings})
        assert r.status_code == 202, r.text
        rid = r.json()["receipt_id"]
        import time

        for _ in range(100):
            if c.get(f"/api/v1/measurements/batches/{rid}").status_code == 200:
                break
            time.sleep(0.1)


def _order_and_download_a_report(page: object, stack: Stack) -> None:
    page.goto(f"{console_url(stack)}/reports")
    if page.locator("#r-kind").count() == 0:
        return  # the reports service is not deployed: the page says so
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    page.select_option("#r-kind", "daily_electricity_balance")
    page.select_option("#r-level", "national")
    page.fill("#r-from", yesterday)
    page.fill("#r-to", yesterday)
    page.select_option("#r-format", "xlsx")
    page.click("form.form-grid button[type=submit]")
    page.wait_for_url("**/reports?ordered=1")
    # the newest report is the one just ordered (other tests leave reports of their own)
    link = page.locator("#reports tbody tr").first.locator("a[download]")
    for _ in range(60):
        if link.count():
            break
        page.wait_for_timeout(1000)
        page.reload()
    shot(page, "reports-en")
    with page.expect_download() as got:
        link.click()
    assert got.value.suggested_filename.endswith(".xlsx")


def test_auditor_lands_on_the_journal_and_verifies_it(browser: object, stack: Stack) -> None:
    page = sign_in(browser, stack, "auditor", "en")
    assert page.url.split("?")[0].endswith("/audit")
    assert [a.inner_text() for a in page.locator("nav.mainnav a").all()] == ["Audit", "Open data"]
    if page.get_by_text("Verify the chain").count():
        page.get_by_text("Verify the chain").click()
        page.wait_for_load_state("networkidle")
    shot(page, "audit-en")
    page.context.close()


def test_operator_sees_an_alarm_arrive_live_and_acknowledges_it(
    browser: object, stack: Stack
) -> None:
    world = World(stack, interval_min=1, criticality=1)
    page = sign_in(browser, stack, "operator", "en")
    page.goto(f"{console_url(stack)}/alarms")
    if page.locator("#live-status").count() == 0:
        pytest.skip("the monitoring service is not deployed in this installation")
    page.wait_for_timeout(1500)  # the live stream is open
    base = (datetime.now(UTC).timestamp() // 60) * 60 - 180
    t1, t2 = (datetime.fromtimestamp(base + 60 * i, UTC) for i in range(2))
    readings = [
        {"point": world.point_code, "quantity": "voltage_l1", "ts": kz(t1), "value": 221_000.0},
        {"point": world.point_code, "quantity": "voltage_l1", "ts": kz(t2), "value": 176_000.0},
    ]
    with stack.sync_client(world.user) as c:
        r = c.post("/api/v1/ingest/readings", json={"readings": readings})
        assert r.status_code == 202, r.text
    # the sag appears in the list without reloading the page (server-sent events)
    row = page.locator(f"#alarm-table tr:has-text('{world.point_code}')").first
    row.wait_for(timeout=15000)
    assert "critical" in row.inner_text().lower()
    shot(page, "alarms-en")
    row.locator("a").first.click()
    page.wait_for_load_state("networkidle")
    page.fill("#ack-comment", "crew sent to the substation")
    page.click("form[action$='/acknowledge'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "acknowledged" in page.locator(".pagehead .lead").inner_text()
    assert "crew sent to the substation" in page.locator(".timeline").inner_text()
    shot(page, "alarm-en")
    page.context.close()


def test_a_correction_proposed_in_the_console_is_confirmed_by_another_operator(
    browser: object, stack: Stack
) -> None:
    world = World(stack, interval_min=15, criticality=2, quantities=["active_import"])
    ends = grid(datetime.now(UTC) - timedelta(hours=3), 4, 15)
    _post_and_wait(
        stack,
        world,
        [
            {"point": world.point_code, "quantity": "active_import", "ts": kz(t), "value": 40.0}
            for t in ends
        ],
    )
    target = kz(ends[1])
    author = sign_in(browser, stack, "operator", "en")
    author.goto(
        f"{console_url(stack)}/corrections/new?point={world.point_code}"
        f"&quantity=active_import&ts={target.replace('+', '%2B')}&value=77.5"
    )
    author.fill("#f-comment", "The meter was replaced; the value is from the paper log.")
    author.click("form.form-grid button[type=submit]")
    author.wait_for_url("**/corrections/*")
    url = author.url.split("?")[0]
    assert "You proposed this correction" in author.content()
    # the period is the 15-minute interval that ends at the corrected time
    with stack.sync_client("operator") as c:
        made = c.get(f"/api/v1/measurements/corrections/{url.rsplit('/', 1)[1]}").json()
    assert datetime.fromisoformat(made["to"]) - datetime.fromisoformat(made["from"]) == timedelta(
        minutes=15
    )
    assert author.locator("form[action$='/confirm']").count() == 0  # no button for the author
    shot(author, "correction-pending-en")
    # the author cannot confirm it even by posting the form by hand: the API refuses
    with stack.sync_client("operator") as c:
        cid = url.rsplit("/", 1)[1]
        own = c.post(f"/api/v1/measurements/corrections/{cid}/confirm", json={})
        assert own.status_code == 403, own.text
        assert c.get(_point_readings(world, ends)).json()["items"][1]["value"] == 40.0
    author.context.close()
    reviewer = sign_in(browser, stack, "operator2", "en")
    reviewer.goto(url)
    reviewer.fill("#cc", "Checked against the paper log.")
    reviewer.click("form[action$='/confirm'] button[type=submit]")
    reviewer.wait_for_load_state("networkidle")
    assert reviewer.locator("form[action$='/confirm']").count() == 0
    shot(reviewer, "correction-confirmed-en")
    with stack.sync_client("operator") as c:
        assert c.get(f"/api/v1/measurements/corrections/{cid}").json()["status"] == "confirmed"
        items = c.get(_point_readings(world, ends)).json()["items"]
        assert [i["value"] for i in items] == [40.0, 77.5, 40.0, 40.0]
    reviewer.context.close()


def _point_readings(world: World, ends: list[datetime]) -> str:
    start = (ends[0] - timedelta(minutes=15)).isoformat().replace("+", "%2B")
    end = ends[-1].isoformat().replace("+", "%2B")
    return (
        f"/api/v1/measurements/points/{world.point_code}/readings"
        f"?quantity=active_import&from={start}&to={end}"
    )


def _post_and_wait(stack: Stack, world: World, readings: list[dict[str, object]]) -> None:
    import time

    with stack.sync_client(world.user) as c:
        r = c.post("/api/v1/ingest/readings", json={"readings": readings})
        assert r.status_code == 202, r.text
        rid = r.json()["receipt_id"]
        for _ in range(300):
            if c.get(f"/api/v1/measurements/batches/{rid}").status_code == 200:
                return
            time.sleep(0.1)
    raise AssertionError("the batch did not reach the historian")
