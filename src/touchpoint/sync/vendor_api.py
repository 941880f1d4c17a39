"""One HTTP connection to a call-tracking vendor's REST API, for `sync callrail` and `sync ctm`.

Every answer is JSON. A 429 or a 5xx (and a dropped connection or a timeout)
is tried again: after the `Retry-After` the vendor gave (seconds or an HTTP
date), else after a pause that doubles from `FIRST_BACKOFF_S`; each wait is
capped at `MAX_WAIT_S` and a request is tried `ATTEMPTS` times at most. A 401
or 403 is one line naming the settings to fix; the credentials never appear
in a message, and no request leaves the configured base URL's host (a
`next_page` link elsewhere would carry the credentials with it).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from touchpoint.errors import TouchpointError
from touchpoint.store import first_line

TIMEOUT = (15, 120)  # seconds to connect, seconds to wait for an answer
ATTEMPTS = 6
FIRST_BACKOFF_S = 1.0
MAX_WAIT_S = 120.0

Params = Mapping[str, str | int]


class VendorApi:
    """GET JSON from one vendor's API with its credentials, retrying what is transient."""

    def __init__(
        self,
        title: str,
        base_url: str,
        credentials: str,  # the settings to fix when the vendor refuses them
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        base = base_url.strip().rstrip("/")
        if urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).netloc:
            raise TouchpointError(f"the {title} base_url {base_url!r} is not an http(s) URL")
        self.title = title
        self.base_url = base
        self.credentials = credentials
        self.sleep = sleep
        self.waited: list[float] = []  # every pause, in seconds, for the summary
        self.http = requests.Session()
        self.http.headers.update({"Accept": "application/json", **(headers or {})})
        self.http.auth = auth

    def close(self) -> None:
        self.http.close()

    def url(self, path_or_link: str) -> str:
        """An absolute URL on the API's host: a path, or a link the API gave (`next_page`)."""
        url = urljoin(self.base_url + "/", path_or_link)
        if urlsplit(url).netloc != urlsplit(self.base_url).netloc:
            raise TouchpointError(
                f"{self.title} answered with a link to another host ({urlsplit(url).netloc}); "
                "not followed"
            )
        return url

    def get(self, url: str, params: Params | None = None) -> dict[str, Any]:
        """The JSON object at `url`, after as many tries as transient failures need."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.http.get(url, params=params, timeout=TIMEOUT)
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem, wait = f"cannot reach {self.title}: {first_line(exc)}", None
            else:
                status = response.status_code
                if status == 429 or status >= 500:
                    problem = f"{self.title} answered {status}{_said(response)}"
                    wait = retry_after(response.headers.get("Retry-After"))
                else:
                    return self._json(response)
            if attempt >= ATTEMPTS:
                raise TouchpointError(f"{problem}; gave up after {attempt} attempts")
            pause = min(wait if wait is not None else _backoff(attempt), MAX_WAIT_S)
            self.waited.append(pause)
            self.sleep(pause)

    def _json(self, response: requests.Response) -> dict[str, Any]:
        status = response.status_code
        if status in (401, 403):
            raise TouchpointError(
                f"{self.title} refused the credentials ({status}{_said(response)}): "
                f"check {self.credentials}"
            )
        if status == 404:
            raise TouchpointError(
                f"{self.title} found nothing at {urlsplit(response.url).path} (404): "
                f"check {self.credentials}"
            )
        if status >= 400:
            raise TouchpointError(f"{self.title} refused the request ({status}{_said(response)})")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise TouchpointError(f"{self.title} answered {status} without a JSON object")
        return body


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait by a `Retry-After` header (delta-seconds or an HTTP date), or None.

    >>> retry_after("7"), retry_after(None), retry_after("soon")
    (7.0, None, None)
    >>> retry_after("Wed, 21 Oct 2015 07:28:30 GMT", datetime(2015, 10, 21, 7, 28, tzinfo=UTC))
    30.0
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def _backoff(attempt: int) -> float:
    return FIRST_BACKOFF_S * 2 ** (attempt - 1) * random.uniform(0.75, 1.0)


def _said(response: requests.Response) -> str:
    """What the vendor's error body says, briefly: `: message`, or nothing."""
    try:
        body = response.json()
    except ValueError:
        return ""
    message = body.get("error") or body.get("message") if isinstance(body, dict) else None
    if isinstance(message, list):
        message = "; ".join(str(m) for m in message)
    return f": {str(message).strip()[:200]}" if message else ""
