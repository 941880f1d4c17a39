"""A real headless Chromium (Debian's package, driven by Playwright) and a plain site for it.

Chromium runs as root in CI, so without its sandbox, and with no background
networking, since the machine has no internet. `make test` installs it; a run
without it skips the browser tests, except in CI, where they fail.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from support.local_http import QuietHandler, start, stop

CHROMIUM = "/usr/bin/chromium"
# HeadlessChrome's own user agent is dropped as a bot; real visitors send this kind.
DESKTOP = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
# The site and the collector are on this machine under real-looking names.
SITE_HOSTS = "--host-resolver-rules=MAP shop.example.com 127.0.0.1, MAP t.example.com 127.0.0.1"

T = TypeVar("T")


@contextlib.contextmanager
def chromium(*args: str) -> Iterator[Any]:
    """A launched Chromium browser with these extra command-line `args`."""
    if not os.access(CHROMIUM, os.X_OK):
        message = f"{CHROMIUM} is missing: `make test` installs Debian's chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", *args],
        )
        try:
            yield browser
        finally:
            browser.close()


def settle(page: Any, condition: Callable[[], T], timeout: float = 20.0) -> T:
    """Poll `condition` while Playwright keeps serving the page (routes run only then)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting after {timeout}s")
        page.wait_for_timeout(100)
    return value


class Site:
    """A plain site on a free port: `pages` by path (any other path gets "/"); posts are kept."""

    def __init__(self, pages: dict[str, bytes]):
        self.pages = pages
        self.posted: list[bytes] = []
        site = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                body = site.pages.get(self.path.split("?")[0], site.pages["/"])
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                site.posted.append(self.rfile.read(int(self.headers["content-length"] or 0)))
                self.send_response(303)
                self.send_header("location", self.path)
                self.send_header("content-length", "0")
                self.end_headers()

        self.http = start(Handler)
        self.port = self.http.server_address[1]

    def url(self, path: str) -> str:
        return f"http://shop.example.com:{self.port}{path}"

    def close(self) -> None:
        stop(self.http)
