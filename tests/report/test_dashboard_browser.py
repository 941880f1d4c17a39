"""The dashboard in a real Chromium: from file:// (`report --html`) and served (`touchpoint serve`).

Every chart is drawn, nothing logs an error, the page asks the network for
nothing, and hostile strings from the internet (campaign names, referrers,
pages, a channel named by a user rule) stay text. Screenshots go to the test's
output and to /tmp/touchpoint-screenshots/ for people to look at.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from support.browser import chromium
from support.collector_server import Server, start
from support.report_world import (
    FORMULA_CAMPAIGN,
    HOSTILE_VISITOR,
    TOKEN,
    XSS_CAMPAIGN,
    XSS_CHANNEL,
    touchpoint,
)

pytestmark = pytest.mark.slow

SHOTS = Path("/tmp/touchpoint-screenshots")
CHARTS = (
    "calls-by-channel",
    "merge-outcomes",
    "call-gap-minutes",
    "revenue-by-model",
    "touchpoint-types",
    "weekly-trend",
    "journey-timeline",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium("--disable-gpu") as launched:
        yield launched


@pytest.fixture(scope="module")
def world(report_world: Path) -> Path:
    """The built demo world with the hostile visitor; these tests only read it."""
    return report_world


@pytest.fixture(scope="module")
def server(world: Path) -> Iterator[Server]:
    served = start(world)
    yield served
    served.stop()


class Watched:
    """A page with every console message, page error and request it made recorded."""

    def __init__(self, context: Any):
        self.page = context.new_page()
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.failed: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"{m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    yield Watched(context)
    context.close()


def drawn_charts(page: Any) -> dict[str, int]:
    """Each chart element's name and how many SVG shapes it holds."""
    return page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('[data-chart]'))
            .map(e => [e.dataset.chart,
                       e.querySelectorAll('svg path, svg rect, svg text, svg circle').length]))"""
    )


def save_shots(page: Any, directory: Path, name: str) -> list[Path]:
    """A full-page and a first-screen screenshot, in the test's output and for people."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"{name}-full.png", directory / f"{name}-top.png"]
    page.screenshot(path=str(paths[0]), full_page=True)
    page.screenshot(path=str(paths[1]))
    for path in paths:
        shutil.copy(path, SHOTS / path.name)
    return paths


def check_dashboard(watched: Watched, origin: str) -> None:
    page = watched.page
    page.wait_for_function("document.documentElement.dataset.chartsReady !== undefined")
    charts = drawn_charts(page)
    assert set(charts) == set(CHARTS)
    assert all(shapes >= 5 for shapes in charts.values()), charts
    assert page.evaluate("window.__pwned") is None
    external = [url for url in watched.requests if not url.startswith(origin)]
    assert external == [], external
    assert watched.failed == []
    assert watched.problems == []


def test_the_html_file_draws_every_chart_offline(world, watched, tmp_path):
    page_file = tmp_path / "dashboard.html"
    touchpoint(world, "-q", "report", "--html", str(page_file), "--person", HOSTILE_VISITOR)
    watched.page.goto(page_file.as_uri())
    check_dashboard(watched, page_file.as_uri())
    assert watched.requests == [page_file.as_uri()]  # the favicon is a data: URL
    save_shots(watched.page, tmp_path, "dashboard-file")


def test_hostile_strings_stay_text_everywhere(world, watched, tmp_path):
    page_file = tmp_path / "dashboard.html"
    touchpoint(world, "-q", "report", "--html", str(page_file), "--person", HOSTILE_VISITOR)
    page = watched.page
    page.goto(page_file.as_uri())
    page.wait_for_function("document.documentElement.dataset.chartsReady !== undefined")
    journey = page.locator("[data-journey='0']")
    assert XSS_CAMPAIGN in journey.inner_text()
    assert FORMULA_CAMPAIGN in journey.inner_text()
    assert XSS_CHANNEL in page.locator("#touchpoint-types").inner_text() or XSS_CHANNEL in (
        page.locator("[data-chart='touchpoint-types'] svg").inner_html()
    )
    # Tooltips are HTML: point at the hostile person's touchpoints and the hostile channel.
    for index in range(3):
        page.evaluate(
            """(i) => echarts.getInstanceByDom(document.querySelector('[data-chart="journey-timeline"]'))
                .dispatchAction({type: 'showTip', seriesIndex: 1, dataIndex: i})""",
            index,
        )
        page.wait_for_timeout(50)
    page.evaluate(
        """() => { const el = document.querySelector('[data-chart="touchpoint-types"]');
                   const chart = echarts.getInstanceByDom(el);
                   const n = chart.getOption().series[0].data.length;
                   for (let i = 0; i < n; i++) chart.dispatchAction({type: 'showTip', seriesIndex: 0, dataIndex: i}); }"""
    )
    page.wait_for_timeout(100)
    assert page.evaluate("window.__pwned") is None
    assert watched.problems == []
    save_shots(page, tmp_path, "dashboard-hostile")


def test_the_served_dashboard_asks_for_the_token_then_shows_everything(server, watched, tmp_path):
    page = watched.page
    response = page.goto(server.url + "/")
    assert response.status == 401
    save_shots(page, tmp_path, "dashboard-sign-in")
    page.fill("#token", "not the token")
    page.click("button[type=submit]")
    assert "That is not the token" in page.inner_text("body")
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/")
    # The failed sign-in's 401 is the browser's console error, not the page's.
    watched.problems = [p for p in watched.problems if "401" not in p]
    watched.requests.clear()
    page.goto(server.url + f"/?person={HOSTILE_VISITOR}")
    check_dashboard(watched, server.url)
    assert urlparse(watched.requests[0]).path == "/"
    assert len(watched.requests) == 1  # one request: the page carries everything
    page.goto(server.url + "/")
    check_dashboard(watched, server.url)
    save_shots(page, tmp_path, "dashboard-served")


def test_switching_person_and_measure_redraws_without_errors(server, watched, tmp_path):
    page = watched.page
    page.set_extra_http_headers({"Authorization": f"Bearer {TOKEN}"})
    page.goto(server.url + "/")
    page.wait_for_function("document.documentElement.dataset.chartsReady !== undefined")
    options = page.locator("#journey-person option").count()
    assert options >= 5
    page.select_option("#journey-person", str(options - 1))
    assert page.locator(f"[data-journey='{options - 1}']").is_visible()
    assert not page.locator("[data-journey='0']").is_visible()
    for measure in ("open_pipeline", "opportunities", "leads", "won_revenue"):
        page.click(f"[data-measure={measure}]")
        assert page.get_attribute(f"[data-measure={measure}]", "aria-pressed") == "true"
    assert all(shapes >= 5 for shapes in drawn_charts(page).values())
    for dimension in ("campaign", "tracking_number", "vendor_source", "channel"):
        page.click(f"[data-dimension={dimension}]")
        assert page.get_attribute(f"[data-dimension={dimension}]", "aria-pressed") == "true"
        assert page.locator(f"[data-breakdown={dimension}]").is_visible()
    assert not page.locator("[data-breakdown=campaign]").is_visible()
    page.click("[data-dimension=campaign]")
    assert FORMULA_CAMPAIGN in page.locator("[data-breakdown=campaign]").inner_text()
    assert "In the CRM" in page.locator("#reconciliation").inner_text()
    # The date range is a form: the page comes back with the figures of those days.
    page.fill("#period input[name=from]", "2026-03-09")
    page.fill("#period input[name=to]", "2026-03-15")
    page.click("#period button[type=submit]")
    page.wait_for_url("**to=2026-03-15**")
    page.wait_for_function("document.documentElement.dataset.chartsReady !== undefined")
    assert "9 Mar 2026 – 15 Mar 2026" in page.inner_text("[data-period]")
    assert page.input_value("#period input[name=from]") == "2026-03-09"
    assert page.evaluate("window.__pwned") is None
    assert watched.problems == []
    page.locator("#revenue-by-model").screenshot(path=str(tmp_path / "revenue.png"))
    page.locator("#slices").screenshot(path=str(tmp_path / "slices.png"))


def test_sign_out_in_the_browser_ends_the_session_on_the_server(server, watched):
    page = watched.page
    page.goto(server.url + "/?model=linear")
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/?model=linear")  # back to the page it asked for
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "tp_dashboard")
    assert httpx.get(
        server.url + "/api/summary", cookies={"tp_dashboard": cookie}, timeout=60
    ).is_success
    page.click("header form[action='/logout'] button")
    page.wait_for_selector("#token")  # the sign-in form again
    assert not [c for c in page.context.cookies() if c["name"] == "tp_dashboard"]
    # The old cookie, sent again, is refused: the session ended on the server.
    answer = httpx.get(server.url + "/api/summary", cookies={"tp_dashboard": cookie}, timeout=60)
    assert answer.status_code == 401


def test_csv_downloads_neutralise_formulas_but_export_stays_verbatim(world, server, watched):
    page = watched.page
    page.set_extra_http_headers({"Authorization": f"Bearer {TOKEN}"})
    page.goto(server.url + f"/?person={HOSTILE_VISITOR}")
    with page.expect_download() as download:
        page.click("#journey a[download]")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "'" + FORMULA_CAMPAIGN.replace('"', '""') in text
    assert "," + FORMULA_CAMPAIGN.replace('"', '""') not in text.replace('"', '""')
    exported = touchpoint(world, "export", "touchpoints")
    assert FORMULA_CAMPAIGN.replace('"', '""') in exported
    assert "'" + FORMULA_CAMPAIGN not in exported


def test_an_empty_build_shows_readable_empty_states(browser, tmp_path, cli, workdir):
    assert cli("build").code == 0
    page_file = workdir / "empty.html"
    assert cli("report", "--html", str(page_file)).code == 0
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    watched = Watched(context)
    watched.page.goto(page_file.as_uri())
    assert watched.page.locator(".empty").count() >= 6
    assert drawn_charts(watched.page) == {}
    assert watched.problems == []
    save_shots(watched.page, tmp_path, "dashboard-empty")
    context.close()
