"""Web events (DESIGN §7): the rules an event must meet, written once in Python.

`event_row` is the specification of a valid event and of its raw-table row.
The collector uses it for events arriving over HTTP; file imports run the
same rules as DuckDB SQL over millions of rows (`events_bulk`) and ask
`event_row` for the reason only when a row fails.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from touchpoint.config import CollectorSettings
from touchpoint.config.sections import DROP_PARAMS
from touchpoint.sources.records import (
    FileProblem,
    RecordError,
    compact_json,
    from_us,
    parse_time,
    stable_hash,
    text_or_none,
)
from touchpoint.sources.urls import (
    WHITESPACE,
    drop_params,
    host_of,
    is_http_url,
    strip,
    url_facts,
)
from touchpoint.sources.user_agents import describe

EVENT_TYPES = ("page_view", "form_submit", "chat", "identify")
REQUIRED = ("visitor_id", "type", "occurred_at", "url")
OPTIONAL_TEXT = ("referrer", "title", "email", "user_agent")
OPTIONAL = ("event_id", *OPTIONAL_TEXT, "properties")
KNOWN_FIELDS = (*REQUIRED, *OPTIONAL)
FORMATS = ("ndjson", "jsonl", "csv", "parquet")
VISITOR_ID = r"[A-Za-z0-9_-]{1,64}"
EVENT_ID_MAX = 128
# The longest text each field may hold (characters, after trimming; `properties` as
# compact JSON): a longer one rejects its event (DESIGN §16), never its batch.
MAX_CHARS = {
    "url": 8192,
    "referrer": 8192,
    "title": 2048,
    "email": 320,
    "user_agent": 2048,
    "properties": 16384,
}
# The integers a JSON reader keeps as integers (DuckDB: BIGINT or UBIGINT).
_INT_RANGE = range(-(2**63), 2**64)
_VISITOR_ID = re.compile(VISITOR_ID)


@dataclass(frozen=True, slots=True)
class Privacy:
    """What of an event is not kept (DESIGN §16): `[collector] drop_params`, `store_user_agent`."""

    drop_params: frozenset[str] = frozenset(DROP_PARAMS)
    store_user_agent: bool = False

    @classmethod
    def of(cls, settings: CollectorSettings) -> Privacy:
        """The rules the `[collector]` settings give."""
        names = frozenset(name.strip().lower() for name in settings.drop_params if name.strip())
        return cls(drop_params=names, store_user_agent=settings.store_user_agent)


DEFAULT_PRIVACY = Privacy()


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip(WHITESPACE))


def event_row(
    record: dict[str, Any], *, naive_is_utc: bool = False, privacy: Privacy = DEFAULT_PRIVACY
) -> dict[str, Any]:
    """The raw-table row of one event, or `RecordError` saying what is wrong with it.

    `privacy` says what is removed before anything is kept: the parameters it
    drops from `url` and `referrer`, and the user agent, of which only its
    browser, OS and device class stay (unless it says to store it).

    >>> row = event_row({"visitor_id": "v1", "type": "page_view",
    ...     "occurred_at": "2026-03-04T12:17:00Z", "url": "https://example.com/?gclid=abc"})
    >>> row["click_id_param"], row["occurred_us"]
    ('gclid', 1772626620000000)
    """
    for name in REQUIRED:
        if _missing(record.get(name)):
            raise RecordError(f"missing required field {name}")
    visitor_id = record["visitor_id"]
    if not isinstance(visitor_id, str) or not _VISITOR_ID.fullmatch(visitor_id):
        raise RecordError(
            f"visitor_id {visitor_id!r} must be 1-64 characters of letters, digits, _ and -"
        )
    kind = record["type"]
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise RecordError(f"type {kind!r} is not one of {', '.join(EVENT_TYPES)}")
    occurred_us = parse_time(record["occurred_at"], "occurred_at", naive_is_utc=naive_is_utc)
    given_url = record["url"]
    if not isinstance(given_url, str) or not is_http_url(url := strip(given_url)):
        raise RecordError(f"url {given_url!r} is not an absolute http(s) URL")
    if len(url) > MAX_CHARS["url"]:
        raise RecordError(f"url is longer than {MAX_CHARS['url']} characters")
    url = drop_params(url, privacy.drop_params)
    facts = url_facts(url)
    if facts.host is None:
        raise RecordError(f"url {url!r} has no host")
    texts: dict[str, str | None] = {}
    for name in OPTIONAL_TEXT:
        value = record.get(name)
        if value is None:
            texts[name] = None
        elif isinstance(value, str):
            texts[name] = text = value.strip(WHITESPACE) or None  # `text_or_none`, inlined
            if text is not None and len(text) > MAX_CHARS[name]:
                raise RecordError(f"{name} is longer than {MAX_CHARS[name]} characters")
        else:
            raise RecordError(f"{name} must be a string")
    referrer = texts["referrer"]
    if referrer is not None:
        referrer = drop_params(referrer, privacy.drop_params)
    agent = texts["user_agent"]
    described = describe(agent)
    utm = facts.utm
    return {
        "event_id": _event_id(record.get("event_id"), visitor_id, kind, occurred_us, url),
        "visitor_id": visitor_id,
        "type": kind,
        "occurred_at": from_us(occurred_us),
        "occurred_us": occurred_us,
        "url": url,
        "referrer": referrer,
        "title": texts["title"],
        "email": texts["email"].lower() if texts["email"] else None,
        "user_agent": agent if privacy.store_user_agent else None,
        "properties": _properties(record.get("properties")),
        "page_host": facts.host,
        "page_path": facts.path,
        "referrer_host": host_of(referrer),
        # UTM_PARAMS, written out: this runs for every event the collector takes.
        "utm_source": utm.get("utm_source"),
        "utm_medium": utm.get("utm_medium"),
        "utm_campaign": utm.get("utm_campaign"),
        "utm_content": utm.get("utm_content"),
        "utm_term": utm.get("utm_term"),
        "click_id": facts.click_id,
        "click_id_param": facts.click_id_param,
        "browser": described.browser,
        "os": described.os,
        "device": described.device,
        "sent_occurred_at": None,  # the collector's to set (`collect.batch`)
    }


def _event_id(value: Any, visitor_id: str, kind: str, occurred_us: int, url: str) -> str:
    """The event's own id, or (when it has none) a hash of visitor, type, time and url."""
    if isinstance(value, str):
        given = value.strip(WHITESPACE)
        if len(given) > EVENT_ID_MAX:
            raise RecordError(f"event_id must be at most {EVENT_ID_MAX} characters")
        if given:
            return given
        value = None  # blank: as if there were none
    if value is None:
        return stable_hash(visitor_id, kind, occurred_us, url)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError("event_id must be a string")
    if value not in _INT_RANGE:
        raise RecordError("event_id is too large a number; send it as a string")
    return str(value)


def _properties(value: Any) -> str | None:
    if isinstance(value, str):
        text = text_or_none(value)
        if text is None:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            raise RecordError("properties is not a JSON object") from None
        if not isinstance(value, dict):
            raise RecordError("properties is not a JSON object")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RecordError("properties must be an object")
    text = compact_json(value)
    if len(text) > MAX_CHARS["properties"]:
        raise RecordError(f"properties is longer than {MAX_CHARS['properties']} characters")
    return text


def format_of(path: Path, given: str | None) -> str:
    """The events format named by `--format` or by the file's extension."""
    if given:
        if given not in FORMATS:
            raise FileProblem(f"unknown events format {given!r}; use one of {', '.join(FORMATS)}")
        return "ndjson" if given == "jsonl" else given
    name = path.name.lower().removesuffix(".gz")  # gzip is read transparently
    suffix = name.rpartition(".")[2] if "." in name else ""
    if suffix in ("ndjson", "jsonl", "json"):
        return "ndjson"
    if suffix in FORMATS:
        return suffix
    raise FileProblem(
        f"{path}: cannot tell the format from the extension; give --format {'|'.join(FORMATS)}"
    )
