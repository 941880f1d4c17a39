"""The snippet swaps the business number for the visitor's own (DESIGN §15), in a real Chromium.

A real `touchpoint serve` with `[[numbers.pools]]` serves tp.js and answers
`POST /numbers`; the company's site (`shop.example.com`) embeds the snippet with
one line from the collector (`t.example.com`). Every written form of
tests/fixtures/numbers/formats.toml is on one page, each in its own pool.
"""

from __future__ import annotations

import gzip
import html
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.browser import DESKTOP, SITE_HOSTS, Site, chromium, settle
from support.collector_server import Server, logged_rows, start, write_config
from touchpoint.collect.snippet import Snippet, snippet_source
from touchpoint.config import Settings

FORMATS = tomllib.loads(
    (Path(__file__).parent.parent / "fixtures/numbers/formats.toml").read_text()
)["format"]
MAIN = {
    "name": "main",
    "replace": "+1 512-555-0100",
    "numbers": [f"+1512555{n:04d}" for n in range(150, 162)],
}

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Plumbing</title>
<script src="{collector}/tp.js" {attributes} async></script>
<style>.call::after {{ content: "512-555-0100"; }}</style></head><body>
<header>Call <span id="text">(512) 555-0100</span> or
<a id="link" href="tel:+15125550100">+1 512 555 0100</a></header>
<script id="script">var phone = "512-555-0100";</script>
<textarea id="field">512-555-0100</textarea><input id="input" value="512-555-0100">
<p id="other">Fax 512-555-0199</p>
</body></html>"""


def pool_toml(pools: list[dict[str, Any]]) -> str:
    """`[[numbers.pools]]` tables for touchpoint.toml."""
    lines = []
    for pool in pools:
        lines += ["[[numbers.pools]]", f'name = "{pool["name"]}"', f'replace = "{pool["replace"]}"']
        lines.append("numbers = [" + ", ".join(f'"{n}"' for n in pool["numbers"]) + "]")
        if pool.get("channels"):
            lines.append("channels = [" + ", ".join(f'"{c}"' for c in pool["channels"]) + "]")
    return "\n".join(lines) + "\n"


def collector_with(directory: Path, pools: list[dict[str, Any]], **collector: Any) -> Server:
    """A real collector whose settings have these pools."""
    write_config(directory, domains=["example.com"], cookie_domain="example.com", **collector)
    with (directory / "touchpoint.toml").open("a") as toml:
        toml.write(pool_toml(pools))
    return start(directory)


def plumber(server: Server, attributes: str = "") -> Site:
    """The company's site: the business number in text, a tel: link, a script and fields."""
    collector = f"http://t.example.com:{server.port}"
    return Site({"/": PAGE.format(collector=collector, attributes=attributes).encode()})


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(f"--user-agent={DESKTOP}", SITE_HOSTS) as launched:
        yield launched


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Site]]:
    server = collector_with(tmp_path_factory.mktemp("numbers"), [MAIN])
    site = plumber(server)
    yield server, site
    site.close()
    server.stop()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    opened = browser.new_context(user_agent=DESKTOP)
    yield opened
    opened.close()


def text_of(page: Any, selector: str) -> str:
    return str(page.eval_on_selector(selector, "e => e.textContent"))


def assigned(page: Any, pool: str = "main") -> str:
    """The number `POST /numbers` gave this page's visitor, once the snippet has it."""

    def number() -> str | None:
        numbers = page.evaluate("window.touchpoint && touchpoint.numbers && touchpoint.numbers()")
        found = [n["number"] for n in numbers or [] if n["pool"] == pool]
        return found[0] if found and found[0] != "+15125550100" else None

    return settle(page, number)


def national(e164: str) -> str:
    """+15125550150 written as (512) 555-0150."""
    return f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"


def test_the_number_is_swapped_in_text_and_tel_links_and_nowhere_else(world, context):
    server, site = world
    page = context.new_page()
    errors: list[Exception] = []
    page.on("pageerror", lambda error: errors.append(error))
    page.goto(site.url("/"))
    number = assigned(page)
    assert number in MAIN["numbers"]
    settle(page, lambda: text_of(page, "#text") != "(512) 555-0100")
    assert text_of(page, "#text") == national(number)
    assert page.get_attribute("#link", "href") == f"tel:{number}"
    assert text_of(page, "#link") == f"+1 {number[2:5]} {number[5:8]} {number[8:]}"
    # Code, styles and what the visitor types are not the page's text.
    assert text_of(page, "#script") == 'var phone = "512-555-0100";'
    assert page.input_value("#field") == "512-555-0100"
    assert page.input_value("#input") == "512-555-0100"
    assert "512-555-0100" in text_of(page, "style")
    assert text_of(page, "#other") == "Fax 512-555-0199"
    assert errors == []

    # The collector logged the assignment, for the build to match calls with.
    visitor = page.evaluate("touchpoint.visitorId()")

    def logged() -> list[dict[str, Any]]:
        rows = logged_rows(server.intake, "raw_number_assignments")
        return [r for r in rows if r["visitor_id"] == visitor]

    [row] = settle(page, logged)
    assert (row["pool"], row["number"], row["fallback"]) == ("main", number, False)


def test_every_written_form_in_the_table_keeps_its_format(browser, tmp_path):
    pools = [
        {"name": f"f{i}", "replace": row["replace"], "numbers": [row["assigned"]]}
        for i, row in enumerate(FORMATS)
    ]
    server = collector_with(tmp_path, pools)
    rows = []
    for i, row in enumerate(FORMATS):
        text = html.escape(row["text"])
        if "href" in row:
            rows.append(f'<li><a id="f{i}" href="{html.escape(row["href"])}">{text}</a></li>')
        else:
            rows.append(f'<li id="f{i}">{text}</li>')
    page_html = (
        '<!doctype html><html><head><meta charset="utf-8">'
        f'<script src="http://t.example.com:{server.port}/tp.js" async></script></head>'
        f"<body><ul>{''.join(rows)}</ul></body></html>"
    )
    site = Site({"/": page_html.encode()})
    context = browser.new_context(user_agent=DESKTOP)
    try:
        page = context.new_page()
        page.goto(site.url("/"))

        def shown() -> dict[str, tuple[str, str | None]] | None:
            numbers = page.evaluate("window.touchpoint.numbers ? touchpoint.numbers() : []")
            if sorted(n["number"] for n in numbers) != sorted(r["assigned"] for r in FORMATS):
                return None
            return {
                row["title"]: (text_of(page, f"#f{i}"), page.get_attribute(f"#f{i}", "href"))
                for i, row in enumerate(FORMATS)
            }

        expected = {row["title"]: (row["expected"], row.get("expected_href")) for row in FORMATS}
        assert settle(page, shown) == expected
    finally:
        context.close()
        site.close()
        server.stop()


def test_content_added_later_is_swapped_once_and_the_page_stays_quiet(world, context):
    _server, site = world
    page = context.new_page()
    page.goto(site.url("/"))
    number = assigned(page)
    settle(page, lambda: text_of(page, "#text") == national(number))
    # What a single-page app does: new nodes, a changed text, a link's new href.
    page.evaluate(
        """() => {
          history.pushState({}, '', '/contact');
          const card = document.createElement('div');
          card.id = 'card';
          card.innerHTML = '<p>Questions? <b id="added">512.555.0100</b></p>'
            + '<a id="added-link" href="tel:5125550100">Call</a>';
          document.body.appendChild(card);
          document.querySelector('#other').firstChild.nodeValue = 'Or 1-512-555-0100';
          document.querySelector('#link').setAttribute('href', 'tel:+1-512-555-0100');
        }"""
    )
    dotted = f"{number[2:5]}.{number[5:8]}.{number[8:]}"
    settle(page, lambda: text_of(page, "#added") == dotted)
    assert page.get_attribute("#added-link", "href") == f"tel:{number}"
    settle(
        page, lambda: text_of(page, "#other") == f"Or 1-{number[2:5]}-{number[5:8]}-{number[8:]}"
    )
    settle(page, lambda: page.get_attribute("#link", "href") == f"tel:{number}")
    # The SPA's new page view renewed the hold: still the same number.
    assert assigned(page) == number
    # Its own writes never set the snippet off again: the page is quiet now.
    quiet = page.evaluate(
        """() => new Promise(done => {
          let seen = 0;
          new MutationObserver(r => { seen += r.length; }).observe(document.documentElement,
            {childList: true, subtree: true, characterData: true, attributes: true});
          setTimeout(() => done(seen), 1000);
        })"""
    )
    assert quiet == 0


def test_two_visitors_get_two_numbers_and_a_reload_keeps_yours(world, browser):
    _server, site = world
    first, second = (browser.new_context(user_agent=DESKTOP) for _ in range(2))
    try:
        pages = [first.new_page(), second.new_page()]
        numbers = []
        for page in pages:
            page.goto(site.url("/"))
            numbers.append(assigned(page))
        assert numbers[0] != numbers[1]
        assert set(numbers) <= set(MAIN["numbers"])
        pages[0].reload()
        assert assigned(pages[0]) == numbers[0]
        settle(pages[0], lambda: text_of(pages[0], "#text") == national(numbers[0]))
    finally:
        first.close()
        second.close()


def test_pools_sharing_the_business_number_show_the_one_for_the_visitors_channel(browser, tmp_path):
    # As docs/dni.md configures it: a pool for everyone, then one for paid search.
    ads = {"name": "ads", "replace": MAIN["replace"], "numbers": ["+15125550190"]}
    server = collector_with(tmp_path, [MAIN, {**ads, "channels": ["Paid Search"]}])
    site = plumber(server)
    contexts = [browser.new_context(user_agent=DESKTOP) for _ in range(2)]
    try:
        paid, direct = (context.new_page() for context in contexts)
        paid.goto(site.url("/?gclid=ad-click-7"))
        direct.goto(site.url("/"))
        assert assigned(paid, "ads") == "+15125550190"
        settle(paid, lambda: text_of(paid, "#text") == national("+15125550190"))
        assert paid.get_attribute("#link", "href") == "tel:+15125550190"
        main = assigned(direct)
        assert main in MAIN["numbers"]
        settle(direct, lambda: text_of(direct, "#text") == national(main))
        # The ad pool's only number is held: the other visitor, now coming from an ad too,
        # keeps its number of the pool for everyone.
        later = contexts[1].new_page()
        later.goto(site.url("/?gclid=ad-click-8"))
        settle(later, lambda: text_of(later, "#text") == national(main))
    finally:
        for context in contexts:
            context.close()
        site.close()
        server.stop()


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 429, "body": '{"error": "too many requests"}'},
        {"status": 503, "body": "busy"},
        {"status": 200, "body": "not json"},
        {"status": 200, "body": '{"numbers": {"main": "+15125550150"}}'},
        {"status": 200, "body": '{"numbers": [{"pool": "main", "number": "555"}]}'},
        None,  # the connection fails
    ],
    ids=["429", "503", "not-json", "not-a-list", "not-a-number", "no-connection"],
)
def test_when_numbers_fails_the_page_keeps_the_business_number(world, context, answer):
    _server, site = world
    page = context.new_page()
    errors: list[Exception] = []
    page.on("pageerror", lambda error: errors.append(error))
    asked: list[str] = []

    def refuse(route: Any) -> None:
        asked.append(route.request.post_data)
        if answer is None:
            route.abort()
        else:
            route.fulfill(content_type="application/json", **answer)

    page.route("**/numbers", refuse)
    page.goto(site.url("/"))
    settle(page, lambda: asked)
    page.wait_for_timeout(500)  # the answer is in and was read
    assert text_of(page, "#text") == "(512) 555-0100"
    assert page.get_attribute("#link", "href") == "tel:+15125550100"
    assert errors == []
    request = json.loads(asked[0])
    assert request == {
        "visitor_id": page.evaluate("touchpoint.visitorId()"),
        "pools": ["main"],
        "url": site.url("/"),
        "referrer": None,
    }
    assert len(asked) == 1  # once per page view, not retried


@pytest.mark.parametrize(
    "signal",
    [
        "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})",
        "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})",
    ],
    ids=["dnt", "gpc"],
)
def test_do_not_track_and_global_privacy_control_ask_for_nothing(world, context, signal):
    server, site = world
    before = len(logged_rows(server.intake, "raw_number_assignments"))
    context.add_init_script(signal)
    page = context.new_page()
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.url.startswith("http://t.") else None)
    page.goto(site.url("/"))
    page.wait_for_function("window.touchpoint !== undefined")
    page.wait_for_timeout(1500)
    assert [url for url in sent if not url.endswith("/tp.js")] == []
    assert text_of(page, "#text") == "(512) 555-0100"
    assert page.evaluate("touchpoint.numbers()") == [{"pool": "main", "number": "+15125550100"}]
    assert len(logged_rows(server.intake, "raw_number_assignments")) == before


def test_with_require_consent_the_number_is_asked_for_after_consent(world, browser):
    server, _site = world
    site = plumber(server, "data-require-consent")
    context = browser.new_context(user_agent=DESKTOP)
    try:
        page = context.new_page()
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if r.url.endswith("/numbers") else None)
        page.goto(site.url("/"))
        page.wait_for_function("window.touchpoint !== undefined")
        page.wait_for_timeout(1000)
        assert asked == [] and text_of(page, "#text") == "(512) 555-0100"
        page.evaluate("touchpoint.consent(true)")
        number = assigned(page)
        settle(page, lambda: text_of(page, "#text") == national(number))
        assert len(asked) == 1
    finally:
        context.close()
        site.close()


def test_only_a_site_with_pools_is_served_the_number_code_and_its_pools():
    plain = Snippet.build(Settings().collector).body.decode()
    assert "/*tp-numbers*/" not in plain and plain.count("(function (w, d") == 1
    pools = Settings.model_validate({"numbers": {"pools": [MAIN]}}).numbers.pools
    served = Snippet.build(Settings().collector, pools).body.decode()
    assert served.startswith(plain) and served.count("(function (w, d") == 2
    config = '[{"name": "main", "replace": "+15125550100", "national": "5125550100", "cc": "1", '
    assert config + '"trunk": "1"}]' in served


def test_the_number_insertion_stays_small():
    source = snippet_source("tp-numbers.js")
    lines = [line.split(" // ")[0].strip() for line in source.splitlines()]
    code = "\n".join(line for line in lines if line and not line.startswith(("//", "/*", "*")))
    assert len(code.encode()) < 5.5 * 1024  # beside tp.js's 7 KB, only for sites with pools
    assert len(gzip.compress(source.encode())) < 3.5 * 1024
