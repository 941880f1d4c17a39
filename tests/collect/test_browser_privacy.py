"""The snippet in a real Chromium (DESIGN §16): a page title cut inside an emoji rejects its
own event only, and Do Not Track keeps the snippet quiet.

The page (`shop.example.com`) loads the snippet from the collector
(`t.example.com`); Chromium resolves both names to this machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.browser import DESKTOP, SITE_HOSTS, Site, chromium, settle
from support.collector_server import Server, logged_rows, start, write_config

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
<script src="{collector}/tp.js" async></script></head><body><p>Sale</p></body></html>"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(f"--user-agent={DESKTOP}", SITE_HOSTS) as launched:
        yield launched


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Server, Site]]:
    write_config(tmp_path, domains=["example.com"], cookie_domain="example.com")
    server = start(tmp_path)
    site = Site({"/": PAGE.format(collector=f"http://t.example.com:{server.port}").encode()})
    yield server, site
    site.close()
    server.stop()


def test_a_title_cut_inside_an_emoji_rejects_its_event_and_the_batch_lands(world, browser):
    server, site = world
    context = browser.new_context(user_agent=DESKTOP)
    try:
        page = context.new_page()
        answers: list[Any] = []
        page.on("response", lambda r: answers.append(r) if r.url.endswith("/collect") else None)
        page.goto(site.url("/"))
        visitor = settle(page, lambda: page.evaluate("touchpoint.visitorId()"))
        settle(page, lambda: [r for r in logged_rows(server.intake) if r["visitor_id"] == visitor])
        sent_before = len(answers)
        # One batch: a chat, a page view whose title ends in half an emoji, another chat.
        cut = page.evaluate(
            """() => {
              touchpoint.track('chat', {n: 1});
              document.title = "Sale 🎉".slice(0, 6);
              history.pushState({}, '', '/sale');
              touchpoint.track('chat', {n: 2});
              return [document.title.length, document.title.charCodeAt(5).toString(16)];
            }"""
        )
        assert cut == [6, "d83c"]  # a lone high surrogate, as the page holds it

        # The batch's answer, told by what it carried: under load the landing batch's own
        # answer can reach the page after its row reached the log (and sent_before).
        def sent_chats() -> list[Any]:
            return [r for r in answers[sent_before:] if '"chat"' in (r.request.post_data or "")]

        answer = settle(page, sent_chats)[0]
        assert answer.status == 200
        report = json.loads(answer.body())
        assert report["accepted"] == 2
        [rejected] = report["rejected"]
        assert rejected["index"] == 1
        assert rejected["reason"].startswith("title is not valid text")

        def batch() -> list[dict[str, Any]]:
            rows = [r for r in logged_rows(server.intake) if r["visitor_id"] == visitor]
            return rows if len(rows) == 3 else []

        rows = settle(page, batch)
        chats = sorted(json.loads(r["properties"])["n"] for r in rows if r["type"] == "chat")
        assert chats == [1, 2]
        assert [r["page_path"] for r in rows if r["type"] == "page_view"] == ["/"]
        rejects = [
            r
            for r in logged_rows(server.intake, "rejects")
            if visitor in r["record"] and "/sale" in r["record"]
        ]
        assert len(rejects) == 1 and rejects[0]["reason"] == rejected["reason"]
        assert "\\ud83c" in rejects[0]["record"]  # kept as received, as storable text
        page.wait_for_timeout(1500)
        assert len(answers) == sent_before + 1  # a 200 is an answer: nothing is sent again
    finally:
        context.close()


def test_do_not_track_keeps_the_snippet_quiet_by_default(world, browser):
    server, site = world
    context = browser.new_context(user_agent=DESKTOP, extra_http_headers={"DNT": "1"})
    try:
        context.add_init_script(
            "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})"
        )
        page = context.new_page()
        sent: list[str] = []
        page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/collect") else None)
        page.goto(site.url("/"))
        page.wait_for_function("window.touchpoint !== undefined")
        assert page.evaluate("navigator.doNotTrack") == "1"
        page.evaluate("touchpoint.consent(true); touchpoint.track('chat')")
        page.wait_for_timeout(1500)
        assert page.evaluate("touchpoint.visitorId()") is None
        assert context.cookies() == [] and sent == []
    finally:
        context.close()
    assert logged_rows(server.intake) == []


def test_do_not_track_may_be_ignored_when_the_site_says_so(browser, tmp_path: Path):
    write_config(tmp_path, domains=["example.com"], honor_dnt=False)
    server = start(tmp_path)
    site = Site({"/": PAGE.format(collector=f"http://t.example.com:{server.port}").encode()})
    context = browser.new_context(user_agent=DESKTOP, extra_http_headers={"DNT": "1"})
    try:
        context.add_init_script(
            "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})"
        )
        page = context.new_page()
        page.goto(site.url("/"))
        visitor = settle(page, lambda: page.evaluate("touchpoint.visitorId()"))
        settle(page, lambda: [r for r in logged_rows(server.intake) if r["visitor_id"] == visitor])
    finally:
        context.close()
        site.close()
        server.stop()
