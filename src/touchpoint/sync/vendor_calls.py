"""Calls from a call-tracking vendor's API → raw calls: paging, landing, the watermark.

A `CallFeed` (one per vendor module: `callrail`, `ctm`) says how to ask for
the calls that started at or after a time and how to read a page of the
answer; `sync_calls` asks page after page until the vendor says there are no
more. Each record goes through the vendor's own row parser (`Vendor.row` of
`VENDORS`), the same as a webhook body or an imported file, so a call that
came by webhook and by the API is one call (its `call_id`); a record already
stored is the same `record_hash` and lands nothing (it counts as accepted).

The watermark is the start of the newest call stored, in the store's
`checkpoints` as `sync salesforce` keeps its own. Each page lands in one
transaction with its rejects and, when the vendor answers oldest first, the
advanced watermark, so a sync that fails or stops resumes after the last
stored page; when the order is the vendor's own, the watermark moves with the
last page only, and a failed sync starts again from the previous one (what it
stored collapses). Calls at the watermark itself come again, and collapse.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from touchpoint.config import Settings
from touchpoint.errors import TouchpointError
from touchpoint.schema import RAW_TABLES
from touchpoint.sources.records import (
    ParseReport,
    RecordError,
    RowBatches,
    from_us,
    parse_time,
    text_or_none,
)
from touchpoint.sources.vendors.calls import NotACall, record_json
from touchpoint.sources.vendors.files import arrival_clock
from touchpoint.sources.vendors.vendor import Vendor
from touchpoint.store import Store
from touchpoint.sync.pages import PageCounts, land_page
from touchpoint.sync.vendor_api import Params, VendorApi

TABLE = "raw_calls"
KIND = "calls"  # the rejects' kind, as `import calls` names it


@dataclass(frozen=True)
class Request:
    """One GET: a path (or a link the vendor gave) and its query."""

    url: str
    params: Params = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """One answer: its records, how many the query matches, and the next page's request."""

    records: list[Any]
    total: int | None
    next: Request | None


@dataclass(frozen=True)
class CallFeed:
    """How `sync_calls` reads one vendor's calls."""

    vendor: Vendor  # its row parser, name and title
    section: str  # the settings section: `[callrail]`
    connect: Callable[[Settings, Callable[[float], None]], VendorApi]
    account_id: Callable[[Settings], str]
    first: Callable[[Settings, int | None], Request]  # calls that started at or after (µs)
    read: Callable[[dict[str, Any], Request], Page]
    oldest_first: bool  # pages come in call order: the watermark may move with every page

    @property
    def checkpoint(self) -> str:
        return f"{self.vendor.name}.calls.start_time"


@dataclass
class VendorSync(PageCounts):
    """What one `sync callrail` / `sync ctm` did (`skipped`: texts, forms, by reason)."""

    vendor: str
    title: str
    account_id: str = ""
    since: str | None = None  # the watermark it started from
    watermark: str | None = None  # where it ended
    waited: list[float] = field(default_factory=list)  # pauses for 429 / 5xx, in seconds
    stopped: str | None = None
    seconds: float = 0.0
    newest_us: int | None = None  # the newest call start read so far (ahead of the watermark)

    def summary(self) -> dict[str, Any]:
        """What `--json` prints."""
        return {
            "vendor": self.vendor,
            "account_id": self.account_id,
            "since": self.since,
            "watermark": self.watermark,
            "pages": self.pages,
            "read": self.read,
            "new": self.new,
            "already_present": self.already_present,
            "rejected": self.rejected,
            "skipped": self.skipped.total(),
            "skipped_reasons": dict(self.skipped.most_common()),
            "rejects": [{"source": r.source, "reason": r.reason} for r in self.first_rejects],
            "waited_s": [round(w, 3) for w in self.waited],
            "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
        }


# (what is synced, records so far, records the query matches)
PageProgress = Callable[[str, int, int], None]


def sync_calls(
    settings: Settings,
    feed: CallFeed,
    on_page: PageProgress = lambda _w, _n, _t: None,
    full: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
) -> VendorSync:
    """Download the calls that started since the watermark (every call with `full`)."""
    started = time.perf_counter()
    title = feed.vendor.title
    result = VendorSync(feed.vendor.name, title, feed.account_id(settings))
    api = feed.connect(settings, sleep)
    try:
        with Store.open(settings) as store:
            stored = store.get_checkpoint(feed.checkpoint)
            result.since = None if full else stored
            result.watermark = stored
            result.newest_us = None if stored is None else parse_time(stored, "watermark")
            since_us = None if result.since is None else parse_time(result.since, "watermark")
            origin = f"{feed.vendor.name}-api:{api.base_url}"
            clock = arrival_clock(datetime.now(UTC))
            request: Request | None = feed.first(settings, since_us)
            while request is not None:
                try:
                    page = feed.read(api.get(api.url(request.url), request.params), request)
                except TouchpointError as exc:
                    raise TouchpointError(f"{exc}{_resume_note(result, feed)}") from None
                moves = feed.oldest_first or page.next is None
                _land(store, feed, page.records, settings, origin, clock, result, moves)
                on_page(f"{title} calls", result.read, max(page.total or 0, result.read))
                request = page.next
                if request is not None and should_stop():
                    result.stopped = "stopped on request; " + (
                        "the next sync resumes where this one ended"
                        if feed.oldest_first
                        else f"the next sync starts again from {result.since or 'the start'}"
                    )
                    break
    finally:
        api.close()
        result.waited = list(api.waited)
        result.seconds = time.perf_counter() - started
    return result


def _land(
    store: Store,
    feed: CallFeed,
    records: list[Any],
    settings: Settings,
    origin: str,
    clock: Any,
    result: VendorSync,
    moves_watermark: bool,
) -> None:
    """One page, its rejects and (when it may move) the watermark, all or nothing."""
    received_at = datetime.now(UTC).replace(tzinfo=None)
    report = ParseReport()
    batches = RowBatches(RAW_TABLES[TABLE], received_at=received_at, origin=origin)
    newest = result.newest_us
    for index, record in enumerate(records):
        report.seen += 1
        try:
            row = feed.vendor.row(record, settings, next(clock))
        except NotACall as exc:
            report.skip(str(exc))
            continue
        except RecordError as exc:
            report.reject(_source(feed, result, record, index), record_json(record), str(exc))
            continue
        batches.add(row)
        newest = max(newest or row["called_us"], row["called_us"])
    watermark = _watermark(newest) if newest is not None else result.watermark
    moved = moves_watermark and watermark is not None and watermark != result.watermark
    checkpoint = (feed.checkpoint, watermark) if moved and watermark is not None else None
    land_page(store, TABLE, KIND, batches, report, result, checkpoint)
    result.newest_us = newest
    if moves_watermark:
        result.watermark = watermark


def _watermark(called_us: int) -> str:
    """A call's start as the watermark: UTC, whole seconds rounded down (`>=` finds it again).

    >>> _watermark(1768842000_123456)
    '2026-01-19T17:00:00Z'
    """
    return from_us(called_us - called_us % 1_000_000).strftime("%Y-%m-%dT%H:%M:%SZ")


def _source(feed: CallFeed, result: VendorSync, record: Any, index: int) -> str:
    record_id = text_or_none(record.get("id")) if isinstance(record, dict) else None
    where = f"{feed.vendor.name}-api:{result.account_id}/calls"
    return f"{where}/{record_id}" if record_id else f"{where}[{result.read + index}]"


def _resume_note(result: VendorSync, feed: CallFeed) -> str:
    if result.pages == 0:
        return ""
    if feed.oldest_first:
        return (
            f" ({result.read:,} records stored before it; "
            f"the next sync resumes from {result.watermark})"
        )
    return (
        f" ({result.read:,} records stored before it; "
        f"the next sync starts again from {result.since or 'the start'})"
    )
