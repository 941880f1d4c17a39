"""`touchpoint sync ctm`: calls from CallTrackingMetrics' API v1 → raw calls.

`GET {base_url}/api/v1/accounts/{account_id}/calls.json` with HTTP basic auth
(access key : secret key), 150 calls a page (CTM refuses more), following the
answer's `next_page` link until it is empty (the link names the page; the first
request's filters and page size go with it). CTM filters by day (`start_date`,
`YYYY-MM-DD`, in the account's time zone), so after the first sync it asks from
the day before the watermark's (UTC) day; what comes again collapses. CTM lists
newest first, so the watermark moves when the last page is stored. Forms, chats
and text messages in the list are skipped by `sources.vendors.ctm`'s rule.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from touchpoint.config import Settings
from touchpoint.errors import TouchpointError
from touchpoint.sources.records import from_us
from touchpoint.sources.vendors.ctm import CTM
from touchpoint.sync.vendor_api import VendorApi
from touchpoint.sync.vendor_calls import CallFeed, Page, Request

PER_PAGE = 150
CREDENTIALS = "[ctm] access_key, secret_key and account_id"


def connect(settings: Settings, sleep: Callable[[float], None]) -> VendorApi:
    """The API connection with the account's keys (one error when a setting is missing)."""
    ctm = settings.ctm
    if not ctm.access_key or not ctm.secret_key or not ctm.account_id:
        raise TouchpointError(
            "set [ctm] access_key, secret_key (CTM > Settings > API Integration) and "
            "account_id to sync CallTrackingMetrics"
        )
    return VendorApi(
        CTM.title, ctm.base_url, CREDENTIALS, auth=(ctm.access_key, ctm.secret_key), sleep=sleep
    )


def first_page(settings: Settings, since_us: int | None) -> Request:
    """The first page of the calls since the day before `since_us`'s (all with None)."""
    params: dict[str, str | int] = {"page": 1, "per_page": PER_PAGE}
    if since_us is not None:
        params["start_date"] = (from_us(since_us) - timedelta(days=1)).date().isoformat()
    account = quote(settings.ctm.account_id, safe="")
    return Request(f"/api/v1/accounts/{account}/calls.json", params)


def read_page(body: dict[str, Any], request: Request) -> Page:
    """The calls of one answer `{page, per_page, total_entries, total_pages, next_page, calls}`."""
    calls = body.get("calls")
    if not isinstance(calls, list):
        raise TouchpointError("CallTrackingMetrics' answer has no list of calls")
    link = body.get("next_page")
    following = None
    if isinstance(link, str) and link.strip() and calls:
        parts = urlsplit(link.strip())
        named = dict(parse_qsl(parts.query))
        path = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        following = Request(path, {**request.params, **named})
    total = body.get("total_entries")
    return Page(calls, total if isinstance(total, int) else None, following)


CTM_CALLS = CallFeed(
    vendor=CTM,
    section="ctm",
    connect=connect,
    account_id=lambda settings: settings.ctm.account_id,
    first=first_page,
    read=read_page,
    oldest_first=False,
)
