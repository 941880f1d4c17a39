"""`touchpoint sync salesforce`: Tasks and CRM records changed since the last sync → raw tables.

Each object is read with one SOQL query over `queryAll` (deleted records come
too, with `IsDeleted = true`, and remove what they made), ordered by
`SystemModstamp` and filtered with `SystemModstamp >=` the object's watermark.
Every Task is kept (the build decides which are calls, `stages.current_calls`);
the Tasks that are not calls by the rule of `salesforce.tasks` are counted as
skipped. When `[salesforce] task_filter` is set, that condition in the query's
WHERE replaces the rule: the Tasks it leaves out are never read, and those it
chooses are calls (their rows say `kind = 'call'`).
Pages follow `nextRecordsUrl`. Each page lands in one transaction together
with its rejects and the watermark (the page's newest `SystemModstamp`), so a
sync that fails or stops leaves the watermark where the last stored page
ended; the next run starts there. Records at the watermark itself come again,
and collapse: a record already stored is the same `record_hash`.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from touchpoint.config import Settings
from touchpoint.errors import TouchpointError
from touchpoint.schema import CRM_TABLES, RAW_TABLES
from touchpoint.sources.records import (
    ParseReport,
    RecordError,
    RowBatches,
    compact_json,
    from_us,
    parse_time,
    text_or_none,
)
from touchpoint.sources.salesforce import crm as salesforce_crm
from touchpoint.sources.salesforce import tasks as salesforce_tasks
from touchpoint.sources.salesforce.reading import SkipOf
from touchpoint.store import Store
from touchpoint.sync.pages import PageCounts, land_page
from touchpoint.sync.salesforce_client import ApiLimitReached, SalesforceClient

STAMP = "SystemModstamp"
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?")

RowOf = Callable[[dict[str, Any], Settings], dict[str, Any]]


@dataclass(frozen=True)
class SyncedObject:
    """A Salesforce object the sync reads: where its rows go and what reads them."""

    name: str  # as `[salesforce] objects` names it
    sobject: str  # its API name
    kind: str  # the rejects' kind, as `import` names it
    table: str
    row_of: RowOf
    fields_of: Callable[[Settings], Iterable[str]]
    skip_of: SkipOf | None = None  # which records are not of this kind (Tasks: not calls)
    kept_of: RowOf | None = None  # the row kept of a record skipped (the build decides)
    filter_of: Callable[[Settings], str] = lambda _settings: ""  # a SOQL condition
    chosen: dict[str, Any] = field(default_factory=dict)  # what the condition's rows say

    def fields(self, settings: Settings) -> list[str]:
        """The SELECT list: Id first, then every field the row function reads, sorted."""
        names = set(self.fields_of(settings)) | {"Id", "IsDeleted", STAMP}
        for name in names:
            if not _FIELD_NAME.fullmatch(name):
                raise TouchpointError(
                    f"{name!r} is not a Salesforce field name (see the [salesforce] field settings)"
                )
        return ["Id", *sorted(names - {"Id"})]

    def skip(self, settings: Settings) -> SkipOf | None:
        """The rule that skips records, unless a SOQL condition in the query replaces it."""
        return None if self.filter_of(settings) else self.skip_of

    def soql(self, settings: Settings, since: str | None) -> str:
        """The query for records changed at or after `since` (everything when None)."""
        conditions = [f"({condition})" for condition in (self.filter_of(settings),) if condition]
        conditions += [f"{STAMP} >= {since}"] if since else []
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        return (
            f"SELECT {', '.join(self.fields(settings))} FROM {self.sobject}{where} "
            f"ORDER BY {STAMP} ASC, Id ASC"
        )

    @property
    def checkpoint(self) -> str:
        return f"salesforce.{self.sobject}.{STAMP}"


def _crm(sobject: str, kind: str, row_of: RowOf) -> SyncedObject:
    return SyncedObject(
        name=kind,
        sobject=sobject,
        kind=kind,
        table=CRM_TABLES[kind],
        row_of=row_of,
        fields_of=lambda settings: salesforce_crm.known_fields(kind, settings),
    )


OBJECTS: dict[str, SyncedObject] = {
    "tasks": SyncedObject(
        name="tasks",
        sobject="Task",
        kind="calls",
        table="raw_calls",
        row_of=salesforce_tasks.task_row,
        fields_of=salesforce_tasks.known_fields,
        skip_of=salesforce_tasks.not_a_call,
        kept_of=salesforce_tasks.kept_task_row,
        filter_of=lambda settings: _task_filter(settings.salesforce.task_filter),
        chosen={"kind": "call"},
    ),
    "leads": _crm("Lead", "leads", salesforce_crm.lead_row),
    "contacts": _crm("Contact", "contacts", salesforce_crm.contact_row),
    "opportunities": _crm("Opportunity", "opportunities", salesforce_crm.opportunity_row),
    "contact-roles": _crm(
        "OpportunityContactRole", "contact-roles", salesforce_crm.contact_role_row
    ),
    "campaign-members": _crm(
        "CampaignMember", "campaign-members", salesforce_crm.campaign_member_row
    ),
}


@dataclass
class ObjectSync(PageCounts):
    """What the sync did for one object."""

    name: str
    sobject: str
    since: str | None = None  # the watermark it started from
    watermark: str | None = None  # where it ended


@dataclass
class SyncResult:
    """What `sync salesforce` did: per object, and why it stopped early if it did."""

    instance_url: str = ""
    objects: list[ObjectSync] = field(default_factory=list)
    stopped: str | None = None
    api_used: int | None = None
    api_total: int | None = None
    seconds: float = 0.0

    @property
    def read(self) -> int:
        return sum(o.read for o in self.objects)

    @property
    def new(self) -> int:
        return sum(o.new for o in self.objects)

    @property
    def rejected(self) -> int:
        return sum(o.rejected for o in self.objects)

    @property
    def skipped(self) -> Counter[str]:
        return sum((o.skipped for o in self.objects), Counter())


# (object's API name, records so far, records the query matches)
PageProgress = Callable[[str, int, int], None]


def sync_salesforce(
    settings: Settings,
    on_page: PageProgress = lambda _o, _n, _t: None,
    full: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
) -> SyncResult:
    """Download every enabled object's changes since its watermark (everything with `full`)."""
    started = time.perf_counter()
    objects = [OBJECTS[name] for name in dict.fromkeys(settings.salesforce.objects)]
    for obj in objects:
        obj.soql(settings, None)  # a bad field name or filter: one error before anything is sent
    if any(o.kind in ("opportunities", "campaign-members") for o in objects):
        salesforce_crm.site_zone(settings)  # a bad time zone is one error, not a reject per row
    result = SyncResult()
    client = SalesforceClient(settings.salesforce, sleep=sleep)
    try:
        with Store.open(settings) as store:
            client.connect()
            result.instance_url = client.instance_url
            for obj in objects:
                done = ObjectSync(obj.name, obj.sobject)
                result.objects.append(done)
                try:
                    _sync_object(store, client, obj, settings, done, on_page, full, should_stop)
                except ApiLimitReached as exc:
                    result.stopped = f"{exc}; stopped, the next sync resumes where this one ended"
                    break
                except TouchpointError as exc:
                    raise TouchpointError(f"{exc}{_filter_note(obj, settings, done)}") from None
                if should_stop():
                    result.stopped = (
                        "stopped on request; the next sync resumes where this one ended"
                    )
                    break
    finally:
        client.close()
        if client.usage is not None:
            result.api_used, result.api_total = client.usage.used, client.usage.total
        result.seconds = time.perf_counter() - started
    return result


def _sync_object(
    store: Store,
    client: SalesforceClient,
    obj: SyncedObject,
    settings: Settings,
    done: ObjectSync,
    on_page: PageProgress,
    full: bool,
    should_stop: Callable[[], bool],
) -> None:
    stored = store.get_checkpoint(obj.checkpoint)
    done.since = None if full else stored
    done.watermark = stored  # never moves back, not even while --full reads older pages
    what = f"the {obj.sobject} query"
    page = client.query(obj.soql(settings, done.since), what)
    origin = f"salesforce:{client.instance_url}"
    while True:
        records = [r for r in page.get("records") or [] if isinstance(r, dict)]
        _store_page(store, obj, records, settings, origin, done)
        on_page(obj.sobject, done.read, int(page.get("totalSize") or done.read))
        next_url = page.get("nextRecordsUrl")
        if page.get("done", True) or not next_url or should_stop():
            return
        page = client.query_more(str(next_url), what)


def _store_page(
    store: Store,
    obj: SyncedObject,
    records: list[dict[str, Any]],
    settings: Settings,
    origin: str,
    done: ObjectSync,
) -> None:
    """One page, its rejects and the advanced watermark, all or nothing."""
    received_at = datetime.now(UTC).replace(tzinfo=None)
    report = ParseReport()
    batches = RowBatches(RAW_TABLES[obj.table], received_at=received_at, origin=origin)
    kept = RowBatches(RAW_TABLES[obj.table], received_at=received_at, origin=origin)
    watermark = done.watermark
    skip_of = obj.skip(settings)
    chosen = obj.chosen if obj.filter_of(settings) else {}
    for record in records:
        report.seen += 1
        watermark = _later(watermark, record.get(STAMP))
        reason = skip_of(record, settings) if skip_of else None
        if reason is not None:
            report.skip(reason)
            if obj.kept_of is not None:
                with contextlib.suppress(RecordError):  # a record skipped is never a reject
                    kept.add(obj.kept_of(record, settings))
            continue
        try:
            batches.add({**obj.row_of(record, settings), **chosen})
        except RecordError as exc:
            record_id = text_or_none(record.get("Id"))
            source = (
                f"salesforce:{obj.sobject}/{record_id}"
                if record_id
                else f"salesforce:{obj.sobject}"
            )
            report.reject(source, compact_json(record), str(exc))
    moved = watermark is not None and watermark != done.watermark
    checkpoint = (obj.checkpoint, watermark) if moved and watermark is not None else None
    land_page(store, obj.table, obj.kind, batches, report, done, checkpoint, kept)
    done.watermark = watermark


def _task_filter(condition: str) -> str:
    """`[salesforce] task_filter` as the query's condition (one error when it is not one)."""
    condition = condition.strip()
    if re.match(r"(?i)where\b", condition):
        raise TouchpointError(
            "setting [salesforce] task_filter: give the condition without WHERE, "
            "e.g. \"TaskSubtype = 'Call'\""
        )
    return condition


def _later(watermark: str | None, stamp: Any) -> str | None:
    """The later of a watermark and a record's SystemModstamp, as a SOQL datetime literal.

    Whole seconds, rounded down: `>=` it then finds the record again, never misses it.

    >>> _later("2026-03-04T20:21:30Z", "2026-03-04T20:21:31.000+0000")
    '2026-03-04T20:21:31Z'
    >>> _later("2026-03-04T20:21:30Z", "2026-03-01T08:00:00.000+0000")
    '2026-03-04T20:21:30Z'
    """
    try:
        stamp_us = parse_time(stamp, STAMP)
    except RecordError:
        return watermark  # a record without a usable stamp moves nothing
    if watermark is not None and parse_time(watermark, STAMP) >= stamp_us:
        return watermark
    return from_us(stamp_us - stamp_us % 1_000_000).strftime("%Y-%m-%dT%H:%M:%SZ")


def _filter_note(obj: SyncedObject, settings: Settings, done: ObjectSync) -> str:
    """Where a refused query's condition came from, or where the next sync resumes."""
    condition = obj.filter_of(settings)
    if condition and done.pages == 0:
        return f" (its WHERE holds [salesforce] task_filter = {condition!r})"
    return _resume_note(done)


def _resume_note(done: ObjectSync) -> str:
    if done.pages == 0:
        return ""
    return (
        f" ({done.read:,} {done.sobject} records stored before it; "
        f"the next sync resumes from {done.watermark})"
    )
