"""What a call-tracking vendor is to touchpoint: one `Vendor` declaration per vendor module.

A vendor declares its name (the `source_system` of its calls), how one record
becomes a raw-calls row, the files `import calls --format` reads for it, its
webhook on `touchpoint serve` (routes, secret, signature check, body), and
where its records carry the visitor id. `VENDORS` (in this package's
`__init__`) lists them; the importers, the webhook endpoints, `explain`, the
CLI's format choices and the tables of docs/vendors.md read that list and
never name a vendor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from touchpoint.config import Settings, VendorSettings
from touchpoint.sources.files import Dialect
from touchpoint.sources.records import ParseReport

# A record → its raw-calls row, given the settings and the microsecond it counts as
# received; raises `RecordError` (a reject) or `NotACall` (skipped).
RowMaker = Callable[[Any, Settings, int], dict[str, Any]]
# A file → (where in the file, the record as received, the record or None when rejected).
FileReader = Callable[[Path, ParseReport, Dialect, Settings], Iterator[tuple[str, str, Any]]]


@dataclass(frozen=True)
class CallFile:
    """A file format of `import calls --format`, and how its records are read."""

    name: str  # the --format value
    # json: one document (a record, an array, a page) or one document per line;
    # csv: a header of column names; json or csv: CSV by extension, or when the
    # file does not start with `[` or `{`.
    layout: Literal["json", "csv", "json or csv"]
    # CSV columns the vendor reads (or knows); others are ignored with a note.
    # Empty: no note.
    known_columns: frozenset[str] = frozenset()
    # A format with its own records (a web app's export): its reader gives (where in
    # the file, the record as received, what `row` reads or None when rejected), and
    # its `row` replaces the vendor's.
    reader: FileReader | None = None
    row: RowMaker | None = None


@dataclass(frozen=True)
class WebhookRequest:
    """What a signature check reads of a request: its address, headers and raw body."""

    body: bytes
    headers: Mapping[str, str]  # as the server gives them (case-insensitive there)
    origin: str  # scheme://host[:port] the request names
    path: str
    query: str = ""
    path_params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CallAnswer:
    """What a call-control route answers: instructions for the call, as the vendor reads them."""

    body: bytes
    media_type: str
    note: str = ""  # why the call was not forwarded as asked, for the server's log


@dataclass(frozen=True)
class CallControl:
    """A route the vendor asks, as a call comes in, what to do with it (Twilio's voice URL).

    Verified like the webhook's other routes; its one record becomes a raw-calls row
    (`row`), logged before `answer` (never raising) says what the caller gets.
    """

    row: RowMaker
    answer: Callable[[Mapping[str, Any], Settings], CallAnswer]


@dataclass(frozen=True)
class Webhook:
    """A vendor's endpoint on `touchpoint serve`: routes, secret, signature check, body."""

    paths: tuple[str, ...]  # its routes (POST)
    secret: str  # the `[webhooks]` field of its secret; unset, the endpoint answers 503
    # Accepts the request or raises `SignatureError` (401) or `NotReadable` (400).
    verify: Callable[[WebhookRequest, Settings], None]
    checks: str  # what is checked, as docs/vendors.md says it
    body: Literal["json", "form"] = "json"  # JSON (the vendor's `records` of it), or one form
    address: str = ""  # the path to give the vendor, when it is not the first route
    # Routes among `paths` that answer a call with instructions instead of JSON.
    controls: Mapping[str, CallControl] = field(default_factory=dict)

    @property
    def given_path(self) -> str:
        """The path the vendor is told to call."""
        return self.address or self.paths[0]


@dataclass(frozen=True)
class VisitorIds:
    """Where a vendor's records carry the visitor id, and how that place is named.

    `explained` is what `explain` says (its `{}` is the places the build used,
    joined by "or", or `fallback` when the build recorded none); `documented` is
    what docs/vendors.md says (its `{}` is the default places, "`a`, then `b`").
    """

    explained: str = "{}"
    documented: str = "{}"
    setting: str | None = None  # the `[vendors]` field listing the places, first found wins
    fallback: str = ""

    def explain(self, recorded: Mapping[str, Any]) -> str:
        """The place, given the `[vendors]` settings a build recorded."""
        places = recorded.get(self.setting) if self.setting else None
        return self.explained.format(" or ".join(places) if places else self.fallback)

    def default_places(self) -> list[str]:
        """The places the settings look in by default (none without a setting)."""
        return list(getattr(VendorSettings(), self.setting)) if self.setting else []


@dataclass(frozen=True)
class Vendor:
    """One call-tracking vendor (or generic call source) and everything touchpoint reads of it."""

    name: str  # the `source_system` of its calls, and its webhook's name
    title: str  # as people name it: "CallTrackingMetrics"
    row: RowMaker
    visitor_ids: VisitorIds
    files: tuple[CallFile, ...] = ()
    webhook: Webhook | None = None
    # A JSON document's records: one record, an array, or a page object that
    # holds them in a list under this key (`{"calls": [...]}`).
    page_key: str | None = None

    def records(self, document: Any) -> list[Any]:
        """The records of one JSON document: a record, an array, or a page of them."""
        if self.page_key and isinstance(document, Mapping):
            listed = document.get(self.page_key)
            if isinstance(listed, list):
                return list(listed)
        if isinstance(document, list):
            return document
        return [document]
