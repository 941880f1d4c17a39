"""A local CallTrackingMetrics API v1 for the sync's tests: `GET /api/v1/accounts/{id}/calls.json`.

It speaks CTM's wire format: HTTP basic auth with the access key and secret
key (else 401 `{"error": "..."}`), an unknown account is 404, `page` and
`per_page` (more than 150 is a 400, as CTM answers), `start_date` / `end_date`
(`YYYY-MM-DD`, days in UTC here), newest first, and the page layout of CTM's
documented sample (tests/fixtures/vendors/ctm-api-calls-docs-sample.txt):
`calls`, `page`, `total_entries`, `total_pages`, `per_page`, and `next_page` /
`previous_page` as absolute links that name only the page. Calls are held as
CTM's call objects (tests/fixtures/vendors/ctm-calls.json's).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from support.paths import VENDOR_FIXTURES
from support.vendor_api_server import Answer, VendorApiServer, json_answer

ACCESS_KEY = "a131877d5e0f1c2b3a4d5e6f7a8b9c0d1e2f3a4b5"
SECRET_KEY = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
ACCOUNT = "131877"
DOCS_SAMPLE = (VENDOR_FIXTURES / "ctm-api-calls-docs-sample.txt").read_text()
# The page's keys, in the documented order (the sample's top-level `key:` lines).
PAGE_KEYS = tuple(re.findall(r"(?m)^  ([a-z_]+):", DOCS_SAMPLE))


def unix_time(call: dict[str, Any]) -> int:
    return int(call["unix_time"])


@dataclass
class CtmApi(VendorApiServer):
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    account_id: str = ACCOUNT
    calls: list[dict[str, Any]] = field(default_factory=list)

    def add(self, call: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(call)
        return call

    def calls_requests(self) -> list[dict[str, str]]:
        """The queries of the calls listing answered 200, in order."""
        return [s.query for s in self.seen if s.path.endswith("/calls.json") and s.status == 200]

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Answer:
        expected = base64.b64encode(f"{self.access_key}:{self.secret_key}".encode()).decode()
        if headers.get("authorization") != f"Basic {expected}":
            return json_answer(401, {"error": "Not Authorized"})
        listing = f"/api/v1/accounts/{self.account_id}/calls.json"
        if path != listing:
            return json_answer(404, {"error": "Not Found"})
        per_page = int(query.get("per_page", 10))
        if per_page > 150:
            return json_answer(400, {"error": "per_page limit is 150"})
        page = int(query.get("page", 1))
        matching = sorted(self.calls, key=unix_time, reverse=True)
        if "start_date" in query:
            day = query["start_date"]
            matching = [c for c in matching if _day(c) >= day]
        if "end_date" in query:
            matching = [c for c in matching if _day(c) <= query["end_date"]]
        pages = max(1, -(-len(matching) // per_page))
        link = f"{self.base_url}{listing}"
        body = {
            "calls": matching[(page - 1) * per_page : page * per_page],
            "page": page,
            "total_entries": len(matching),
            "total_pages": pages,
            "per_page": per_page,
            "next_page": f"{link}?page={page + 1}" if page < pages else None,
            "previous_page": (f"{link}?page={page - 1}" if page > 2 else link)
            if page > 1
            else None,
        }
        assert tuple(body) == PAGE_KEYS, (tuple(body), PAGE_KEYS)
        return json_answer(200, body)


def _day(call: dict[str, Any]) -> str:
    return datetime.fromtimestamp(unix_time(call), UTC).date().isoformat()
