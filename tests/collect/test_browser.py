"""The snippet in a real Chromium: the visitor id a call-tracking vendor reads is on the events.

A small site (`shop.example.com`) embeds the snippet with one `<script>` line
from the collector (`t.example.com`); Chromium resolves both names to this
machine. A second script on the page reads the cookie the way call-tracking
vendors do.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.browser import DESKTOP, SITE_HOSTS, Site, chromium, settle
from support.collector_server import Server, logged_rows, start, touchpoint, write_config

HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/126.0.0.0 Safari/537.36"
)
SECRETS = ("hunter2-secret", "4111111111111111", "4111 1111 1111 1111", "cvc-q7")

# What a call-tracking vendor's script does: read the visitor id from the cookie, now
# or when the snippet says it is ready, and keep it for the calls it tracks.
VENDOR = """
<script>
  function vendorRead() {
    var m = document.cookie.match(/(?:^|;\\s*)_tp_uid=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : null;
  }
  window.vendorId = vendorRead();
  window.addEventListener("touchpoint:ready", function () { window.vendorId = vendorRead(); });
</script>
"""

PAGES = {
    "/": """<!doctype html><html><head><title>Shop</title>
{snippet}{vendor}</head><body>
<h1>Shop</h1>
<a id="pricing" href="/pricing"
   onclick="history.pushState({{}}, '', '/pricing'); return false;">Pricing</a>
<form id="quote" name="quote" action="/thanks?ref=form" method="post">
  <input type="text" name="full_name" value="Jane Doe">
  <input type="email" name="work_email">
  <input type="password" name="password">
  <input type="text" name="card_number" autocomplete="cc-number">
  <input type="text" name="cvc">
  <button id="send" type="submit">Get a quote</button>
</form>
</body></html>""",
    "/thanks": """<!doctype html><html><head><title>Thanks</title>{snippet}{vendor}</head>
<body><p>Thanks</p></body></html>""",
    "/consent": """<!doctype html><html><head><title>Consent</title>{consent_snippet}{vendor}</head>
<body><p>Cookie banner</p></body></html>""",
}


def shop(collector: str) -> Site:
    """The company's site: plain pages that embed the snippet with one line."""
    snippet = f'<script src="{collector}/tp.js" async></script>'
    consent = f'<script src="{collector}/tp.js" data-require-consent async></script>'
    return Site(
        {
            path: page.format(snippet=snippet, consent_snippet=consent, vendor=VENDOR).encode()
            for path, page in PAGES.items()
        }
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # --user-agent for every request: a context's user agent does not reach the beacons a
    # page sends as it unloads, which would otherwise say HeadlessChrome.
    with chromium(f"--user-agent={DESKTOP}", SITE_HOSTS) as launched:
        yield launched


def collector_in(directory: Path, **collector: Any) -> Server:
    write_config(directory, domains=["example.com"], cookie_domain="example.com", **collector)
    return start(directory)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Site]]:
    server = collector_in(tmp_path_factory.mktemp("browser"))
    site = shop(f"http://t.example.com:{server.port}")
    yield server, site
    site.close()
    server.stop()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(user_agent=DESKTOP)
    yield context.new_page()
    context.close()


def events_of(server: Server, visitor: str) -> list[dict[str, Any]]:
    """The visitor's logged events, one per event id, as a build keeps them.

    The log takes a request at least once: when an answer is slow to come (a loaded
    machine), the snippet sends the batch again and the log holds its events twice.
    """
    first: dict[str, dict[str, Any]] = {}
    for row in logged_rows(server.intake):
        if row["visitor_id"] == visitor:
            first.setdefault(row["event_id"], row)
    return list(first.values())


def test_the_id_a_vendor_reads_from_the_cookie_is_on_every_stored_event(world, page, tmp_path):
    server, site = world
    page.goto(site.url("/?utm_source=newsletter&utm_medium=email&gclid=ad-click-1"))
    vendor_id = settle(page, lambda: page.evaluate("window.vendorId"))
    assert len(vendor_id) == 32 and set(vendor_id) <= set("0123456789abcdef")
    assert page.evaluate("touchpoint.visitorId()") == vendor_id

    [cookie] = [c for c in page.context.cookies() if c["name"] == "_tp_uid"]
    assert (cookie["value"], cookie["domain"], cookie["sameSite"]) == (
        vendor_id,
        ".example.com",
        "Lax",
    )
    assert cookie["httpOnly"] is False  # other scripts must be able to read it
    assert abs(cookie["expires"] - (time.time() + 365 * 86400)) < 120

    page.click("#pricing")  # a single-page app's navigation (pushState)
    page.go_back()  # popstate
    page.fill("input[name=work_email]", " Jane.Doe@Example.com ")
    page.fill("input[name=password]", SECRETS[0])
    page.fill("input[name=card_number]", SECRETS[2])
    page.fill("input[name=cvc]", SECRETS[3])
    page.click("#send")
    page.wait_for_url("**/thanks?ref=form")
    assert settle(page, lambda: page.evaluate("window.vendorId")) == vendor_id  # read at once now

    def arrived() -> list[dict[str, Any]]:
        rows = events_of(server, vendor_id)
        return (
            rows
            if [r["page_path"] for r in rows if r["type"] == "page_view"][-1:] == ["/thanks"]
            else []
        )

    rows = sorted(settle(page, arrived), key=lambda r: r["occurred_us"])
    assert [(r["type"], r["page_path"]) for r in rows] == [
        ("page_view", "/"),
        ("page_view", "/pricing"),
        ("page_view", "/"),
        ("form_submit", "/"),
        ("page_view", "/thanks"),
    ]
    landing, pricing, _back, form, _thanks = rows
    assert (landing["utm_source"], landing["utm_medium"], landing["click_id"]) == (
        "newsletter",
        "email",
        "ad-click-1",
    )
    assert pricing["referrer"] == site.url(
        "/?utm_source=newsletter&utm_medium=email&gclid=ad-click-1"
    )
    assert form["email"] == "jane.doe@example.com"
    assert json.loads(form["properties"]) == {
        "form_id": "quote",
        "form_name": "quote",
        "form_action": "/thanks",
    }
    # DESIGN §16: what the user agent says is kept, not the string.
    assert {(r["user_agent"], r["browser"], r["os"], r["device"]) for r in rows} == {
        (None, "Chrome", "Linux", "desktop")
    }
    assert len({r["event_id"] for r in rows}) == 5

    # No password, card number or security code ever reaches the collector.
    logged = b"".join(p.read_bytes() for p in server.intake.rglob("*") if p.is_file())
    assert not any(secret.encode() in logged for secret in SECRETS)
    assert any(SECRETS[0].encode() in body for body in site.posted)  # the site itself got them

    # And after a build, the stored events carry the id the vendor read.
    built = touchpoint(server.directory, "build")
    assert built.returncode == 0, built.stderr
    exported = touchpoint(server.directory, "export", "events", "--format", "json")
    stored = [json.loads(line) for line in exported.stdout.splitlines()]
    ours = [e for e in stored if e["event_id"] in {r["event_id"] for r in rows}]
    assert len(ours) == 5 and {e["visitor_id"] for e in ours} == {vendor_id}


def test_the_same_visitor_keeps_the_same_id_on_later_visits(world, page):
    _server, site = world
    page.goto(site.url("/"))
    first = settle(page, lambda: page.evaluate("window.vendorId"))
    page.goto(site.url("/thanks"))
    assert page.evaluate("window.vendorId") == first  # the cookie was there before the snippet


def test_track_and_identify_send_events(world, page):
    server, site = world
    page.goto(site.url("/thanks"))
    visitor = settle(page, lambda: page.evaluate("touchpoint.visitorId()"))
    page.evaluate(
        "touchpoint.track('chat', {agent: 'Ann'}); touchpoint.identify('Ann@Example.com')"
    )
    page.evaluate("touchpoint.flush()")

    def tracked() -> list[dict[str, Any]] | None:
        rows = [r for r in events_of(server, visitor) if r["type"] != "page_view"]
        return rows if len(rows) == 2 else None

    rows = settle(page, tracked)
    kinds = {r["type"]: r for r in rows}
    assert json.loads(kinds["chat"]["properties"]) == {"agent": "Ann"}
    assert kinds["identify"]["email"] == "ann@example.com"


def test_events_still_queued_when_the_page_goes_away_are_sent(world, page):
    server, site = world
    page.goto(site.url("/thanks?leaving=1"))
    visitor = settle(page, lambda: page.evaluate("touchpoint.visitorId()"))
    settle(page, lambda: events_of(server, visitor))  # the page view went out
    page.evaluate("touchpoint.track('chat', {last: true})")  # batched: would wait a second
    page.goto("about:blank")  # pagehide: handed to sendBeacon at once
    rows = settle(page, lambda: [r for r in events_of(server, visitor) if r["type"] == "chat"])
    assert json.loads(rows[0]["properties"]) == {"last": True}


def test_failed_deliveries_are_retried_and_stored_once(world, page):
    server, site = world
    failures = []

    def flaky(route: Any) -> None:
        if len(failures) < 2:
            failures.append(route.request.post_data)
            route.fulfill(status=503, body="busy")
        else:
            route.continue_()

    page.route("**/collect", flaky)
    page.goto(site.url("/thanks?retry=1"))
    visitor = settle(page, lambda: page.evaluate("touchpoint.visitorId()"))
    rows = settle(page, lambda: events_of(server, visitor), timeout=30)
    assert len(failures) == 2 and len(rows) == 1
    assert json.loads(failures[0])[0]["event_id"] == rows[0]["event_id"]


def test_with_require_consent_nothing_is_stored_or_sent_until_consent(world, page):
    server, site = world
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/collect") else None)
    page.goto(site.url("/consent?utm_source=banner"))
    page.wait_for_function("window.touchpoint !== undefined")
    page.wait_for_timeout(1500)  # longer than the snippet's batching delay
    assert page.evaluate("touchpoint.visitorId()") is None
    assert page.evaluate("window.vendorId") is None
    assert page.context.cookies() == []
    assert page.evaluate("window.localStorage.length") == 0
    assert sent == []

    page.evaluate("touchpoint.consent(true)")
    visitor = page.evaluate("touchpoint.visitorId()")
    assert page.evaluate("window.vendorId") == visitor  # touchpoint:ready fired
    [landing] = settle(page, lambda: events_of(server, visitor))
    assert landing["utm_source"] == "banner"  # the page view from before consent

    page.evaluate("touchpoint.consent(false)")
    assert page.context.cookies() == []
    assert page.evaluate("touchpoint.visitorId()") is None
    page.evaluate("history.pushState({}, '', '/consent/after')")
    page.wait_for_timeout(1500)
    assert [r["page_path"] for r in events_of(server, visitor)] == ["/consent"]


def test_global_privacy_control_is_honoured_when_configured(browser, tmp_path: Path):
    server = collector_in(tmp_path, honor_gpc=True)
    site = shop(f"http://t.example.com:{server.port}")
    context = browser.new_context(user_agent=DESKTOP)
    try:
        context.add_init_script(
            "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"
        )
        page = context.new_page()
        sent: list[str] = []
        page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/collect") else None)
        page.goto(site.url("/"))
        page.wait_for_function("window.touchpoint !== undefined")
        assert page.evaluate("navigator.globalPrivacyControl") is True
        page.evaluate("touchpoint.consent(true); touchpoint.track('chat')")
        page.wait_for_timeout(1500)
        assert page.evaluate("touchpoint.visitorId()") is None
        assert context.cookies() == [] and sent == []
    finally:
        context.close()
        site.close()
        server.stop()
    assert logged_rows(server.intake) == []


def test_the_cookie_name_can_be_changed_for_a_migration(browser, tmp_path: Path):
    server = collector_in(tmp_path, cookie_name="_biz_uid")
    site = shop(f"http://t.example.com:{server.port}")
    context = browser.new_context(user_agent=DESKTOP)
    existing = "abcdef0123456789abcdef0123456789"
    context.add_cookies([{"name": "_biz_uid", "value": existing, "url": site.url("/")}])
    try:
        page = context.new_page()
        page.goto(site.url("/"))
        assert settle(page, lambda: page.evaluate("touchpoint.visitorId()")) == existing
        assert settle(page, lambda: events_of(server, existing))
    finally:
        context.close()
        site.close()
        server.stop()


def test_headless_chromiums_own_user_agent_is_dropped_as_a_bot(world, browser):
    server, site = world
    context = browser.new_context(user_agent=HEADLESS)
    try:
        page = context.new_page()
        with page.expect_response("**/collect") as answer:
            page.goto(site.url("/thanks?headless=1"))
        assert answer.value.status == 204
        visitor = page.evaluate("touchpoint.visitorId()")
        assert events_of(server, visitor) == []
    finally:
        context.close()
