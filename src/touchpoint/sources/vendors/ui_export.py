"""The call-log CSV a vendor's web app exports (DESIGN §11 "Vendor UI exports").

A web app's export names its columns for people (`Start Time`, `Customer Phone
Number`), writes times on the account's wall clock (`2026-03-31 14:05`,
`03/31/2026 02:05 PM`, and `31.03.2026 14:05` once European Excel has saved the
file again) and, in some exports, the zone in a column of its own. An
`ExportFormat` names a vendor's labels for each field (`ExportColumns`); this
module reads any such file the same way:

- labels match case-insensitively and in any order; other columns are ignored
  with a note; the file's dialect (delimiter, encoding, BOM, .gz) is read as for
  every CSV;
- a row's time is read in its time zone column, else in `[site] timezone` (a time
  that ends with its own offset keeps it); an ambiguous slashed date (`03/04/2026`)
  is read in the order the file's other dates show (`local_times.file_order`);
- a row is a call, a text or a form (the app's activity export lists all three);
  what the export says of it (direction, status, first-time caller, value, lead
  status, tags, spam, source / medium / campaign / keyword / landing page, click
  ids) lands in the call's columns;
- without an id column, a call's id is a hash of its time, zone and numbers as
  written, so the same export imported again is the same calls.

The zone and date order are applied at import (the build keeps `called_us`): after
`[site] timezone` or `[site] date_order` changes, importing the export again reads
its calls anew, and that later version wins (docs/vendors.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from touchpoint.config import Settings, VendorSettings
from touchpoint.sources.files import Dialect
from touchpoint.sources.local_times import DateOrder, file_order, local_time_us, zone_named
from touchpoint.sources.records import (
    FileProblem,
    ParseReport,
    RecordError,
    csv_records,
    decimal_point,
    stable_hash,
)
from touchpoint.sources.vendors.attribution import CLICK_ID_FIELDS, Attribution
from touchpoint.sources.vendors.call_facts import direction_of, status_of, tag_names
from touchpoint.sources.vendors.calls import NotACall, VendorCall, call_row
from touchpoint.sources.vendors.fields import call_id, flag, text, visitor_id, whole_seconds
from touchpoint.sources.vendors.vendor import FileReader, RowMaker

Records = Iterator[tuple[str, str, Any]]


@dataclass(frozen=True)
class ExportColumns:
    """A web app's labels for each field of a call; the first label present wins."""

    start: tuple[str, ...]  # the call's date and time (or its date, with `time`)
    call_id: tuple[str, ...] = ()
    time: tuple[str, ...] = ()  # the time of day, when the date has a column of its own
    zone: tuple[str, ...] = ("Time Zone", "Timezone")
    caller: tuple[str, ...] = ()
    tracking: tuple[str, ...] = ("Tracking Number",)
    duration: tuple[str, ...] = ("Duration",)
    direction: tuple[str, ...] = ("Direction",)
    kind: tuple[str, ...] = ("Type", "Activity Type")
    status: tuple[str, ...] = ("Call Status", "Status")
    answered: tuple[str, ...] = ("Answered",)
    first_time: tuple[str, ...] = ("First Call", "First Time Caller", "First-Time Caller")
    value: tuple[str, ...] = ("Value",)
    lead_status: tuple[str, ...] = ("Lead Status",)
    tags: tuple[str, ...] = ("Tags",)
    spam: tuple[str, ...] = ("Spam",)
    label: tuple[str, ...] = ("Source",)  # the vendor's name for the source: "Google Paid"
    source: tuple[str, ...] = ("UTM Source",)
    medium: tuple[str, ...] = ("Medium", "UTM Medium")
    campaign: tuple[str, ...] = ("Campaign", "UTM Campaign")
    term: tuple[str, ...] = ("Keywords", "Keyword", "UTM Term")
    content: tuple[str, ...] = ("UTM Content",)
    landing_page: tuple[str, ...] = ("Landing Page", "Landing Page URL")
    referrer: tuple[str, ...] = ("Referrer", "Referring URL")
    # Labels the export writes that touchpoint knows and does not read (no note).
    other: tuple[str, ...] = ()

    def labels(self) -> frozenset[str]:
        """Every label read or known, lowercased."""
        named = (label for f in fields(self) for label in getattr(self, f.name))
        return frozenset(label.lower() for label in (*named, *CLICK_ID_FIELDS))


@dataclass(frozen=True)
class ExportFormat:
    """One vendor's web-app export: its labels, its words for kinds, its own date order."""

    source_system: str
    vendor: str  # "CallRail", for messages
    title: str  # "CallRail's call log export", for messages
    columns: ExportColumns
    visitor_setting: str  # the `[vendors]` field of visitor-id places (`custom_fields.tp_uid`)
    native_order: DateOrder = "month-first"  # how the app writes 03/04/2026
    texts: tuple[str, ...] = ("text", "sms", "msg", "message")  # kind or direction words
    forms: tuple[str, ...] = ("form",)
    not_calls: tuple[str, ...] = ("chat", "email", "fax")


@dataclass(frozen=True)
class ExportRecord:
    """One row of an export as the file has it, and the order of its file's slashed dates."""

    columns: dict[str, Any]
    order: DateOrder | None


class _Row:
    """A row's cells by label, case-insensitively."""

    def __init__(self, columns: Mapping[str, Any]):
        self.cells = {str(name).strip().lower(): value for name, value in columns.items()}

    def first(self, labels: tuple[str, ...]) -> tuple[str, str | None]:
        """(the label found, its text) of the first of these labels with text."""
        for label in labels:
            shown = text(self.cells.get(label.lower()))
            if shown is not None:
                return label, shown
        return (labels[0] if labels else ""), None

    def get(self, labels: tuple[str, ...]) -> str | None:
        return self.first(labels)[1]


def export_reader(fmt: ExportFormat) -> FileReader:
    """The records of one export file: `ExportRecord`s, or None for a row rejected in reading.

    Two passes: the first reads every date to decide the file's date order
    (`[site] date_order`), the second yields the rows.
    """
    columns = fmt.columns
    places = getattr(VendorSettings(), fmt.visitor_setting)
    known = columns.labels() | {p.lower() for place in places for p in (place, _leaf(place))}

    def read(path: Path, report: ParseReport, dialect: Dialect, settings: Settings) -> Records:
        dates: list[str] = []
        header: list[str] | None = None
        for _line, _raw, record in csv_records(path, ParseReport(), dialect):
            if record is None:
                continue
            if header is None:
                header = [str(name) for name in record]
                _check_header(path, fmt, header)
            shown = _Row(record).get(columns.start)
            if shown is not None:
                dates.append(shown)
        decided = file_order(dates, settings.site.date_order, fmt.native_order)
        if decided.reason:
            report.notes.append(f"{path}: {decided.reason}")
        unknown: set[str] = set()
        for line, raw, record in csv_records(path, report, dialect):
            if record is None:
                yield f"{path}:{line}", raw, None
                continue
            unknown.update(str(n) for n in record if str(n).strip().lower() not in known)
            yield f"{path}:{line}", raw, ExportRecord(dict(record), decided.order)
        if unknown:
            shown_names = ", ".join(sorted(unknown)[:8]) + (" ..." if len(unknown) > 8 else "")
            report.notes.append(
                f"{path}: ignored {len(unknown)} columns touchpoint does not use ({shown_names})"
            )

    return read


def _leaf(place: str) -> str:
    """The column a visitor-id place names in a flat file: `custom_fields.tp_uid` → `tp_uid`."""
    return place.rpartition(".")[2]


def _check_header(path: Path, fmt: ExportFormat, header: list[str]) -> None:
    present = {name.strip().lower() for name in header}
    if not any(label.lower() in present for label in fmt.columns.start):
        raise FileProblem(
            f"{path} is not {fmt.title}: no column "
            + " or ".join(f"'{label}'" for label in fmt.columns.start)
            + f" (its header: {', '.join(header[:8])}{' ...' if len(header) > 8 else ''})"
        )


def export_row(fmt: ExportFormat) -> RowMaker:
    """The raw-calls row of one export row; `RecordError` (a reject) or `NotACall`."""
    columns = fmt.columns

    def row(record: Any, settings: Settings, received_us: int) -> dict[str, Any]:
        if not isinstance(record, ExportRecord):
            raise RecordError(f"a row of {fmt.title} must be a CSV row of named columns")
        cells = _Row(record.columns)
        kind, direction = _kind(fmt, cells)
        called_us = _called_us(fmt, cells, record.order, settings)
        caller, tracking = cells.get(columns.caller), cells.get(columns.tracking)
        given_id = cells.get(columns.call_id)
        identity = (
            call_id(given_id, columns.call_id[0])
            if given_id is not None
            else "export-"
            + stable_hash(
                fmt.source_system,
                kind,
                cells.get(columns.start),
                cells.get(columns.time),
                cells.get(columns.zone),
                caller,
                tracking,
            )
        )
        status = _status(cells, columns)
        lead_status = cells.get(columns.lead_status)
        spam = flag(cells.get(columns.spam))
        if spam is None and any("spam" in (v or "").lower() for v in (status[1], lead_status)):
            spam = True
        call = VendorCall(
            source_system=fmt.source_system,
            call_id=identity,
            called_us=called_us,
            version_us=received_us,
            visitor_id=_visitor_id(cells, settings, fmt.visitor_setting),
            caller_number=caller,
            tracking_number=tracking,
            duration_s=_duration(*cells.first(columns.duration)),
            call_type=direction,
            attribution=_attribution(cells, columns),
            kind=kind,
            direction=direction,
            status=status[0],
            first_time_caller=flag(cells.get(columns.first_time)),
            value=_amount(cells.get(columns.value)),
            lead_status=lead_status,
            tags=tag_names(re.sub(r"\s*[;|]\s*", ",", cells.get(columns.tags) or "")),
            spam=spam,
        )
        row = call_row(call, record.columns, settings)
        # The settings the time was read with are part of the record as imported: the
        # same file imported after `[site] timezone` or `date_order` changed is a new
        # version of its calls (the later wins), and with the same settings no change.
        zone_setting = "" if cells.get(columns.zone) else settings.site.timezone
        row["record_hash"] = stable_hash(row["record_hash"], zone_setting, record.order)
        return row

    return row


def _kind(fmt: ExportFormat, cells: _Row) -> tuple[str, str | None]:
    """(call, text or form; inbound, outbound or None) from the type and direction columns."""
    words = " ".join(
        (cells.get(fmt.columns.kind) or "", cells.get(fmt.columns.direction) or "")
    ).lower()
    tokens = set(re.split(r"[^a-z]+", words))
    if tokens & set(fmt.not_calls):
        raise NotACall(f"a {fmt.vendor} {words.strip()} row, not a call")
    kind = "call"
    if tokens & set(fmt.texts) or "text" in words:
        kind = "text"
    elif tokens & set(fmt.forms) or "form" in words:
        kind = "form"
    direction = direction_of(cells.get(fmt.columns.direction))
    if direction is None and re.search(r"\b(in|inbound|incoming)\b|_inbound", words):
        direction = "inbound"
    elif direction is None and re.search(r"\b(out|outbound|outgoing)\b|_outbound", words):
        direction = "outbound"
    return kind, direction


def _called_us(fmt: ExportFormat, cells: _Row, order: DateOrder | None, settings: Settings) -> int:
    label, shown = cells.first(fmt.columns.start)
    if shown is None:
        raise RecordError(f"missing required field {fmt.columns.start[0]}")
    clock = cells.get(fmt.columns.time)
    if clock is not None and ":" not in shown:
        shown = f"{shown} {clock}"
    zone_label, zone_text = cells.first(fmt.columns.zone)
    zone: tzinfo
    if zone_text is not None:
        found = zone_named(zone_text)
        if found is None:
            raise RecordError(f"{zone_label} {zone_text!r} is not a time zone")
        zone = found
    else:
        zone = ZoneInfo(settings.site.timezone)
    return local_time_us(shown, label, zone, order)


# Call outcomes as the apps word them, and touchpoint's name for each (DESIGN §12).
_STATUSES = (
    ("voicemail", "voicemail"),
    ("abandon", "abandoned"),
    ("cancel", "abandoned"),
    ("busy", "busy"),
    ("fail", "failed"),
    ("miss", "missed"),
    ("no answer", "missed"),
    ("no-answer", "missed"),
    ("unanswered", "missed"),
    ("not answered", "missed"),
    ("answer", "answered"),
    ("complete", "answered"),
)


def _status(cells: _Row, columns: ExportColumns) -> tuple[str | None, str | None]:
    """(touchpoint's status, the text the export wrote)."""
    shown = cells.get(columns.status)
    known = status_of(shown)
    if known is not None:
        return known, shown
    if shown is not None:
        lowered = shown.lower()
        for word, status in _STATUSES:
            if word in lowered:
                return status, shown
    answered = flag(cells.get(columns.answered))
    if answered is not None:
        return ("answered" if answered else "missed"), shown
    return None, shown


def _duration(label: str, shown: str | None) -> int | None:
    """Seconds of `184`, `3:04`, `0:03:04` or `3m 4s`; other text is a reject."""
    if shown is None:
        return None
    spelt = re.fullmatch(
        r"(?:([0-9]+)\s*h(?:rs?|ours?)?)?\s*(?:([0-9]+)\s*m(?:in)?s?)?\s*(?:([0-9]+)\s*s(?:ec)?s?)?",
        shown.lower(),
    )
    if spelt and any(spelt.groups()):
        hours, minutes, seconds = (int(part or 0) for part in spelt.groups())
        return hours * 3600 + minutes * 60 + seconds
    clock = re.fullmatch(r"(?:([0-9]+):)?([0-9]{1,2}):([0-9]{2})", shown)
    if clock:
        hours, minutes, seconds = int(clock[1] or 0), int(clock[2]), int(clock[3])
        if (minutes > 59 and clock[1]) or seconds > 59:
            raise RecordError(f"{label} {shown!r} is not a duration")
        return hours * 3600 + minutes * 60 + seconds
    return whole_seconds(decimal_point(shown), label)


def _amount(shown: str | None) -> float | None:
    """An amount as an export writes it: `$1,250.00`, `125,50 €`, `1.250,50`; other text is
    no value (as `call_facts.money`), never a reject: the call still lands."""
    if shown is None:
        return None
    bare = re.sub(r"[\s$€£¥]|\b[A-Z]{3}\b", "", shown)
    if re.fullmatch(r"-?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?", bare):
        bare = bare.replace(",", "")
    try:
        number = float(decimal_point(bare))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _visitor_id(cells: _Row, settings: Settings, setting: str) -> str | None:
    """The visitor id in the columns the `[vendors]` places name (`custom_fields.tp_uid`
    is read from a `custom_fields.tp_uid` or a `tp_uid` column)."""
    for place in getattr(settings.vendors, setting):
        for label in (place, _leaf(place)):
            found = visitor_id(cells.cells.get(label.lower()))
            if found is not None:
                return found
    return None


def _attribution(cells: _Row, columns: ExportColumns) -> Attribution:
    click_id, click_param = None, None
    for name in CLICK_ID_FIELDS:
        click_id = cells.get((name,))
        if click_id is not None:
            click_param = name
            break
    return Attribution(
        source=cells.get(columns.source),
        medium=cells.get(columns.medium),
        campaign=cells.get(columns.campaign),
        content=cells.get(columns.content),
        term=cells.get(columns.term),
        click_id=click_id,
        click_id_param=click_param,
        landing_page=cells.get(columns.landing_page),
        referrer=cells.get(columns.referrer),
        label=cells.get(columns.label),
    )
