"""Web events (DESIGN §7) from NDJSON, CSV and Parquet files, and the one validator.

`event_row` is the single place an incoming event is checked and enriched; the
collector uses it for events that arrive over HTTP.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from touchpoint.enrich import UTM_PARAMS, host_of, url_facts
from touchpoint.sources.records import (
    FileProblem,
    ParseReport,
    RecordError,
    RowBatches,
    as_received,
    compact_json,
    csv_records,
    empty_file,
    from_us,
    non_utf8_reason,
    open_text,
    parse_time,
    stable_hash,
    text_or_none,
)

EVENT_TYPES = ("page_view", "form_submit", "chat", "identify")
REQUIRED = ("visitor_id", "type", "occurred_at", "url")
OPTIONAL = ("event_id", "referrer", "title", "email", "user_agent", "properties")
KNOWN_FIELDS = frozenset(REQUIRED + OPTIONAL)
FORMATS = ("ndjson", "jsonl", "csv", "parquet")
VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
BATCH_ROWS = 50_000
_decode_json = msgspec.json.Decoder().decode


def event_row(record: dict[str, Any], *, naive_is_utc: bool = False) -> dict[str, Any]:
    """The raw-table row of one event, or `RecordError` saying what is wrong with it.

    >>> row = event_row({"visitor_id": "v1", "type": "page_view",
    ...     "occurred_at": "2026-03-04T12:17:00Z", "url": "https://example.com/?gclid=abc"})
    >>> row["click_id_param"], row["occurred_us"]
    ('gclid', 1772626620000000)
    """
    for name in REQUIRED:
        value = record.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise RecordError(f"missing required field {name}")
    visitor_id = record["visitor_id"]
    if not isinstance(visitor_id, str) or not VISITOR_ID.fullmatch(visitor_id):
        raise RecordError(
            f"visitor_id {visitor_id!r} must be 1-64 characters of letters, digits, _ and -"
        )
    kind = record["type"]
    if kind not in EVENT_TYPES:
        raise RecordError(f"type {kind!r} is not one of {', '.join(EVENT_TYPES)}")
    occurred_us = parse_time(record["occurred_at"], "occurred_at", naive_is_utc=naive_is_utc)
    url = record["url"]
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise RecordError(f"url {url!r} is not an absolute http(s) URL")
    url = url.strip()
    try:
        facts = url_facts(url)
    except ValueError as exc:
        raise RecordError(f"url {url!r} cannot be read: {exc}") from None
    if facts.host is None:
        raise RecordError(f"url {url!r} has no host")
    event_id = record.get("event_id")
    if event_id is None or event_id == "":
        event_id = stable_hash(visitor_id, kind, occurred_us, url)
    elif isinstance(event_id, bool) or not isinstance(event_id, str | int):
        raise RecordError("event_id must be a string")
    else:
        event_id = str(event_id).strip()
        if not 1 <= len(event_id) <= 128:
            raise RecordError("event_id must be 1-128 characters")
    referrer = _optional_text(record, "referrer")
    properties = record.get("properties")
    if isinstance(properties, str) and properties.strip():
        try:
            properties = json.loads(properties)
        except ValueError:
            raise RecordError("properties is not a JSON object") from None
    if properties in (None, ""):
        properties_json = None
    elif isinstance(properties, dict):
        properties_json = compact_json(properties)
    else:
        raise RecordError("properties must be an object")
    email = _optional_text(record, "email")
    return {
        "event_id": event_id,
        "visitor_id": visitor_id,
        "type": kind,
        "occurred_at": from_us(occurred_us),
        "occurred_us": occurred_us,
        "url": url,
        "referrer": referrer,
        "title": _optional_text(record, "title"),
        "email": email.lower() if email else None,
        "user_agent": _optional_text(record, "user_agent"),
        "properties": properties_json,
        "page_host": facts.host,
        "page_path": facts.path,
        "referrer_host": host_of(referrer),
        **{name: facts.utm.get(name) for name in UTM_PARAMS},
        "click_id": facts.click_id,
        "click_id_param": facts.click_id_param,
    }


def _optional_text(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is not None and not isinstance(value, str):
        raise RecordError(f"{name} must be a string")
    return text_or_none(value)


def format_of(path: Path, given: str | None) -> str:
    """The events format named by `--format` or by the file's extension."""
    if given:
        if given not in FORMATS:
            raise FileProblem(f"unknown events format {given!r}; use one of {', '.join(FORMATS)}")
        return given
    suffix = path.suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    if suffix == "json":
        return "ndjson"
    raise FileProblem(
        f"{path}: cannot tell the format from the extension; give --format {'|'.join(FORMATS)}"
    )


def read_events(
    path: Path, fmt: str, report: ParseReport, batches: RowBatches
) -> Iterator[pa.Table]:
    """Arrow tables of the good events in a file; rejects and notes go to `report`."""
    records = {
        "ndjson": _ndjson_records,
        "jsonl": _ndjson_records,
        "csv": _csv_records,
        "parquet": _parquet_records,
    }[fmt](path, report)
    unknown: set[str] = set()
    for source, raw, record, naive_is_utc in records:
        report.seen += 1
        if record is None:
            continue  # already rejected by the reader (not JSON, not UTF-8, ...)
        unknown.update(key for key in record if key not in KNOWN_FIELDS)
        try:
            batches.add(event_row(record, naive_is_utc=naive_is_utc))
        except RecordError as exc:
            report.reject(source, raw, str(exc))
            continue
        if len(batches) >= BATCH_ROWS:
            yield batches.take()
    if len(batches):
        yield batches.take()
    if report.seen == 0:
        raise empty_file(path)
    if unknown:
        report.notes.append(f"{path}: ignored unknown fields {', '.join(sorted(unknown))}")


Record = tuple[str, str, dict[str, Any] | None, bool]


def _ndjson_records(path: Path, report: ParseReport) -> Iterator[Record]:
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            line = line.rstrip("\r\n")
            if report.seen == 0 and line.lstrip().startswith("["):
                yield from _json_array_records(path, line + handle.read(), report)
                return
            source = f"{path}:{number}"
            bad_bytes = non_utf8_reason(line)
            if bad_bytes:
                report.reject(source, as_received(line), bad_bytes)
                yield source, line, None, False
                continue
            try:
                record = _decode_json(line)
            except msgspec.DecodeError as exc:
                report.reject(source, line, f"not valid JSON: {exc}")
                yield source, line, None, False
                continue
            if not isinstance(record, dict):
                report.reject(source, line, f"not a JSON object but {_json_kind(record)}")
                yield source, line, None, False
                continue
            yield source, line, record, False


def _json_kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _json_array_records(path: Path, text: str, report: ParseReport) -> Iterator[Record]:
    bad_bytes = non_utf8_reason(text)
    if bad_bytes:
        raise FileProblem(f"{path} holds a JSON array that is {bad_bytes}")
    try:
        items = _decode_json(text)
    except msgspec.DecodeError as exc:
        raise FileProblem(
            f"{path} starts like a JSON array but is not valid JSON ({exc}); "
            "events files take one JSON object per line"
        ) from None
    if not isinstance(items, list):
        raise FileProblem(f"{path}: events files take one JSON object per line")
    report.notes.append(
        f"{path} holds a JSON array, not one object per line; read its {len(items)} items"
    )
    for index, item in enumerate(items):
        source = f"{path}[{index}]"
        raw = compact_json(item)
        if not isinstance(item, dict):
            report.reject(source, raw, f"not a JSON object but {_json_kind(item)}")
            yield source, raw, None, False
        else:
            yield source, raw, item, False


def _csv_records(path: Path, report: ParseReport) -> Iterator[Record]:
    for source, raw, record in csv_records(path, report):
        yield source, raw, record, False


def _parquet_records(path: Path, report: ParseReport) -> Iterator[Record]:
    try:
        parquet = pq.ParquetFile(path)
    except FileNotFoundError:
        raise FileProblem(f"{path}: no such file") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise FileProblem(f"{path} is not a readable Parquet file ({exc})") from None
    index = 0
    for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
        for record in batch.to_pylist():
            index += 1
            yield f"{path}#row{index}", compact_json(record), record, True
