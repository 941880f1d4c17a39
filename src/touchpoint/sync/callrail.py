"""`touchpoint sync callrail`: calls from CallRail's API v3 → raw calls.

`GET {base_url}/v3/a/{account_id}/calls.json` with `Authorization: Token
token="{api_key}"`, oldest first (`sort=start_time&order=asc`), 250 calls a
page (the most the endpoint gives), offset paging by `page` until
`total_pages`; after the first sync only calls that started at or after the
watermark (`start_date`, ISO 8601), before it every call (`date_range=all_time`).
`fields=` asks for what the call object leaves out by default and the row
parser reads: the marketing source and `utm_*`, click ids, landing page and
referrer, lead status, value, tags, first-call flag, and the top-level field of
each `[vendors] callrail_visitor_id_fields` place (custom fields).
Each record is read by `sources.vendors.callrail` like a webhook body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from touchpoint.config import Settings
from touchpoint.errors import TouchpointError
from touchpoint.sources.records import from_us
from touchpoint.sources.vendors.callrail import CALLRAIL
from touchpoint.sync.vendor_api import VendorApi
from touchpoint.sync.vendor_calls import CallFeed, Page, Request

PER_PAGE = 250
# Call fields the listing returns only when asked (CallRail's "Field Selection").
EXTRA_FIELDS = (
    "source",
    "source_name",
    "medium",
    "campaign",
    "keywords",
    "landing_page_url",
    "referring_url",
    "referrer_domain",
    "last_requested_url",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "gclid",
    "fbclid",
    "msclkid",
    "first_call",
    "lead_status",
    "value",
    "tags",
    "call_type",
    "company_id",
    "created_at",
)
CREDENTIALS = "[callrail] api_key and account_id"


def requested_fields(settings: Settings) -> list[str]:
    """`fields=`: the extra call fields, and where the settings look for the visitor id."""
    places = [place.split(".")[0] for place in settings.vendors.callrail_visitor_id_fields]
    return list(dict.fromkeys([*EXTRA_FIELDS, *places]))


def connect(settings: Settings, sleep: Callable[[float], None]) -> VendorApi:
    """The API connection with the account's key (one error when a setting is missing)."""
    callrail = settings.callrail
    if not callrail.api_key or not callrail.account_id:
        raise TouchpointError(
            "set [callrail] api_key (an API v3 key: CallRail > Settings > Integrations > API "
            "keys) and account_id to sync CallRail"
        )
    return VendorApi(
        CALLRAIL.title,
        callrail.base_url,
        CREDENTIALS,
        headers={"Authorization": f'Token token="{callrail.api_key}"'},
        sleep=sleep,
    )


def first_page(settings: Settings, since_us: int | None) -> Request:
    """The first page of the calls that started at or after `since_us` (all with None)."""
    params: dict[str, str | int] = {
        "page": 1,
        "per_page": PER_PAGE,
        "sort": "start_time",
        "order": "asc",
        "fields": ",".join(requested_fields(settings)),
    }
    if since_us is None:
        params["date_range"] = "all_time"
    else:
        params["start_date"] = from_us(since_us).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Request(f"/v3/a/{quote(settings.callrail.account_id, safe='')}/calls.json", params)


def read_page(body: dict[str, Any], request: Request) -> Page:
    """The calls of one answer `{page, per_page, total_pages, total_records, calls}`."""
    calls = body.get("calls")
    if not isinstance(calls, list):
        raise TouchpointError("CallRail's answer has no list of calls")
    page = _number(body.get("page")) or int(request.params.get("page", 1))
    total_pages = _number(body.get("total_pages")) or 0
    following = None
    if page < total_pages and calls:
        following = Request(request.url, {**request.params, "page": page + 1})
    return Page(calls, _number(body.get("total_records")), following)


def _number(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


CALLRAIL_CALLS = CallFeed(
    vendor=CALLRAIL,
    section="callrail",
    connect=connect,
    account_id=lambda settings: settings.callrail.account_id,
    first=first_page,
    read=read_page,
    oldest_first=True,
)
