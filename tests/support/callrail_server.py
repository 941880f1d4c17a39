"""A local CallRail API v3 for the sync's tests: `GET /v3/a/{account_id}/calls.json`.

It speaks CallRail's wire format: `Authorization: Token token="..."` (else 401
with Rails' plain "HTTP Token: Access denied."), an unknown account is 404,
offset paging (`page`, `per_page` up to 250) answered in the documented
envelope (`page`, `per_page`, `total_pages`, `total_records`, `calls`, the
layout of tests/fixtures/vendors/callrail-api-calls.json), `sort` / `order`,
the date filters (`date_range=all_time`, `start_date` as an ISO 8601 date or
time, inclusive), and field selection: a call shows its default fields plus
those `fields=` names (an unknown name is a 400). Calls are held in the API's
shape; `add` puts one in, `call_of_webhook` turns a webhook body into the call
object the API gives for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from support.paths import VENDOR_FIXTURES
from support.vendor_api_server import Answer, VendorApiServer, json_answer

API_KEY = "0123456789abcdef0123456789abcdef"
ACCOUNT = "ACC8154748ae6bd4e278a7cddd38a662f4f"
DOCS_PAGE = json.loads((VENDOR_FIXTURES / "callrail-api-calls.json").read_text())
# The call object's fields without `fields=`: those of the documented example.
DEFAULT_FIELDS = tuple(DOCS_PAGE["calls"][0])
# The legacy flat fields a webhook adds to the call object (CallRail's webhook docs).
LEGACY_FIELDS = {
    "callernum", "trackingnum", "destinationnum", "datetime", "callsource", "callername",
    "callercity", "callerstate", "callercountry", "landingpage", "referrer", "referrermedium",
    "ip", "tag", "score", "timestamp", "kissmetrics_id", "utma", "utmb", "utmc", "utmv", "utmz",
}  # fmt: skip
WEBHOOK_ONLY = {"resource_id", "person_resource_id", "custom"}
# The call object's fields: the post-call webhook's, less what only webhooks add, and
# `source`, the marketing source CallRail documents (absent from that fixture).
API_FIELDS = (
    {
        *json.loads((VENDOR_FIXTURES / "callrail-post-call.json").read_text()),
        "source",
    }
    - LEGACY_FIELDS
    - WEBHOOK_ONLY
)


def call_of_webhook(body: dict[str, Any]) -> dict[str, Any]:
    """The API's call object for a post-call webhook body: `id` is the resource id."""
    call = {k: v for k, v in body.items() if k not in LEGACY_FIELDS | WEBHOOK_ONLY}
    call["id"] = body["resource_id"]
    return call


def docs_call(n: int, start_time: str) -> dict[str, Any]:
    """The documentation's first call object with an id and start time of its own."""
    call = dict(DOCS_PAGE["calls"][0])
    call["id"] = f"CAL{n:032x}"
    call["start_time"] = start_time
    call["customer_phone_number"] = f"+1303623{n:04d}"
    return call


def _start_us(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


@dataclass
class CallRailApi(VendorApiServer):
    api_key: str = API_KEY
    account_id: str = ACCOUNT
    calls: list[dict[str, Any]] = field(default_factory=list)
    # Every field a call may carry (`fields=` may name only these).
    known_fields: set[str] = field(default_factory=lambda: set(API_FIELDS))

    def add(self, call: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(call)
        self.known_fields.update(call)
        return call

    def calls_requests(self) -> list[dict[str, str]]:
        """The queries of the calls listing answered 200, in order."""
        return [s.query for s in self.seen if s.path.endswith("/calls.json") and s.status == 200]

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Answer:
        if headers.get("authorization") != f'Token token="{self.api_key}"':
            return 401, {"Content-Type": "text/plain"}, b"HTTP Token: Access denied.\n"
        if path != f"/v3/a/{self.account_id}/calls.json":
            return json_answer(404, {"error": "Not Found"})
        per_page = int(query.get("per_page", 100))
        if not 1 <= per_page <= 250:
            return json_answer(400, {"error": "per_page must be between 1 and 250"})
        page = int(query.get("page", 1))
        extra = [f for f in query.get("fields", "").split(",") if f]
        unknown = sorted(set(extra) - self.known_fields - set(DEFAULT_FIELDS))
        if unknown:
            return json_answer(400, {"error": f"Invalid field(s): {', '.join(unknown)}"})
        if "start_date" not in query and query.get("date_range") != "all_time":
            self.errors.append(f"a listing without a date filter: {query}")
        matching = list(self.calls)
        if "start_date" in query:
            since = _start_us(query["start_date"])
            matching = [c for c in matching if _start_us(c["start_time"]) >= since]
        if query.get("sort", "start_time") == "start_time":
            newest_first = query.get("order", "desc") == "desc"
            matching.sort(key=lambda c: _start_us(c["start_time"]), reverse=newest_first)
        shown = [*DEFAULT_FIELDS, *extra]
        chunk = matching[(page - 1) * per_page : page * per_page]
        return json_answer(
            200,
            {
                "page": page,
                "per_page": per_page,
                "total_pages": max(1, -(-len(matching) // per_page)),
                "total_records": len(matching),
                "calls": [{k: c.get(k) for k in shown} for c in chunk],
            },
        )
