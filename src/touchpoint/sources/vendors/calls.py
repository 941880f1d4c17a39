"""What every call-tracking vendor's record becomes: one raw-calls row (DESIGN §7).

Each vendor module (`ctm`, `callrail`, `invoca`, `twilio`, `calls_csv`) reads its
own field names into a `VendorCall`; `call_row` turns that into the row, the same
way for all of them: text trimmed, numbers E.164, the visitor id checked, and
what the vendor knows about the visit (`Attribution`) completed from its landing
page URL. A record that cannot be a call raises `RecordError` (a reject) or
`NotACall` (a form, a text message, an Invoca signal: skipped, not an error);
there is never a partial row.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from touchpoint.config import Settings
from touchpoint.sources.phones import to_e164
from touchpoint.sources.records import (
    EARLIEST_US,
    LATEST_US,
    RecordError,
    from_us,
    stable_hash,
    to_us,
)
from touchpoint.sources.urls import WHITESPACE, host_of, is_http_url, url_facts

MAX_ID_CHARS = 255
MAX_SECONDS = 10 * 365 * 86_400  # a duration beyond ten years is not a call's
VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# What a vendor's script writes when the cookie was not there.
NO_VISITOR = frozenset({"undefined", "null", "none", "nan", "false"})


class NotACall(Exception):
    """A valid vendor record that is not a phone call (a form, a text, a signal): skipped."""


@dataclass(frozen=True)
class Attribution:
    """What the vendor recorded about the visit before the call."""

    source: str | None = None  # utm_source, or the vendor's own field for it
    medium: str | None = None
    campaign: str | None = None
    content: str | None = None
    term: str | None = None
    click_id: str | None = None
    click_id_param: str | None = None  # gclid, msclkid, fbclid, ...
    landing_page: str | None = None
    referrer: str | None = None  # a URL, or just a host (CallRail's referrer_domain)
    label: str | None = None  # the vendor's name for the source: "Google Paid", "google_paid"


@dataclass(frozen=True)
class VendorCall:
    """One call as a vendor describes it, already in touchpoint's terms."""

    source_system: str
    call_id: str
    called_us: int
    version_us: int
    external_id: str | None = None  # another id the vendor gives the same call
    visitor_id: str | None = None
    caller_number: str | None = None  # as the vendor wrote it
    tracking_number: str | None = None
    duration_s: int | None = None
    call_type: str | None = None  # the direction: inbound, outbound
    activity_type: str | None = None
    attribution: Attribution = field(default_factory=Attribution)


# -- reading one field ----------------------------------------------------------


def text(value: Any) -> str | None:
    """A scalar as trimmed text, or None for missing, blank, true/false or nested values.

    Vendors send numbers as strings and strings as numbers; attribution fields that
    arrive as objects are not text and are left out rather than failing the call.
    """
    if value is None or isinstance(value, bool | dict | list):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    shown = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    shown = shown.strip(WHITESPACE)
    if not shown or not _is_utf8(shown):
        return None
    return shown


def _is_utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a JSON \\udXXX escape
        return False
    return True


def call_id(value: Any, name: str) -> str:
    """A vendor's call id: a number or a string, required."""
    if value is None or isinstance(value, bool | dict | list) or value == "":
        raise RecordError(f"missing required field {name}")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise RecordError(f"{name} {value!r} is not a call id")
    shown = text(value)
    if shown is None:
        raise RecordError(f"missing required field {name}")
    if len(shown) > MAX_ID_CHARS:
        raise RecordError(
            f"{name} is {len(shown)} characters long; ids have at most {MAX_ID_CHARS}"
        )
    return shown


def whole_seconds(value: Any, name: str) -> int | None:
    """A duration in seconds: 13, 13.0, "13" or "" (none); anything else is a reject."""
    if value is None or (isinstance(value, str) and not value.strip(WHITESPACE)):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RecordError(f"{name} {value!r} is not a number of seconds")
    try:
        number = float(value)
    except ValueError:
        raise RecordError(f"{name} {value!r} is not a number of seconds") from None
    if not math.isfinite(number) or number < 0 or number != int(number) or number > MAX_SECONDS:
        raise RecordError(f"{name} {value!r} is not a whole, non-negative number of seconds")
    return int(number)


def flag(value: Any) -> bool | None:
    """A boolean that may arrive as true, "true", "1", "yes" or "" (unknown)."""
    if isinstance(value, bool):
        return value
    shown = text(value)
    if shown is None:
        return None
    lowered = shown.lower()
    if lowered in ("true", "1", "yes", "t", "y"):
        return True
    if lowered in ("false", "0", "no", "f", "n"):
        return False
    return None


def field_at(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (`custom_fields.tp_uid`); None where the path leads nowhere.

    A step into a list of `{"name": ..., "value": ...}` objects picks the one with
    that name, as several vendors write custom fields.

    >>> field_at({"custom_fields": {"tp_uid": "a1"}}, "custom_fields.tp_uid")
    'a1'
    >>> field_at({"custom_fields": [{"name": "tp_uid", "value": "a2"}]}, "custom_fields.tp_uid")
    'a2'
    """
    value: Any = record
    for step in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(step)
        elif isinstance(value, list):
            value = next(
                (
                    item.get("value")
                    for item in value
                    if isinstance(item, Mapping) and item.get("name") == step
                ),
                None,
            )
        else:
            return None
        if value is None:
            return None
    return value


def first_text(record: Mapping[str, Any], *paths: str) -> str | None:
    """The first of these fields that holds text."""
    for path in paths:
        value = text(field_at(record, path))
        if value is not None:
            return value
    return None


def visitor_id(value: Any) -> str | None:
    """A visitor id as the snippet sets it (1-64 of A-Z a-z 0-9 _ -), or None.

    Anything else (`undefined` from a script that found no cookie, a whole cookie
    string) is no visitor id: the call is kept and explained as `no_visitor_id`.
    """
    shown = text(value)
    if shown is None or shown.lower() in NO_VISITOR or not VISITOR_ID.fullmatch(shown):
        return None
    return shown


def first_visitor_id(record: Mapping[str, Any], paths: Iterable[str]) -> str | None:
    """The visitor id in the first of these fields that holds one."""
    for path in paths:
        found = visitor_id(field_at(record, path))
        if found is not None:
            return found
    return None


def timestamp_us(value: Any, name: str, formats: tuple[str, ...]) -> int:
    """Epoch microseconds of a time written in one of these `strptime` formats (with %z).

    >>> timestamp_us("2026-01-19 12:00 PM -05:00", "called_at", ("%Y-%m-%d %I:%M %p %z",))
    1768842000000000
    """
    shown = text(value)
    if shown is None:
        raise RecordError(f"{name} is missing")
    for layout in formats:
        try:
            moment = datetime.strptime(shown, layout)
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # only formats documented as UTC lack %z
        return in_range(to_us(moment), name, shown)
    raise RecordError(f"{name} {shown!r} is not a date and time like {_example(formats[0])}")


def _example(layout: str) -> str:
    return datetime(2026, 1, 19, 17, 0, tzinfo=timezone(timedelta(hours=-5))).strftime(layout)


def epoch_seconds_us(value: Any, name: str) -> int:
    """Epoch microseconds of a Unix time in seconds (CTM's `unix_time`)."""
    if isinstance(value, bool) or value is None:
        raise RecordError(f"{name} {value!r} is not a Unix time in seconds")
    shown = text(value)
    if shown is None or not re.fullmatch(r"[0-9]{1,12}(\.[0-9]{1,6})?", shown):
        raise RecordError(f"{name} {value!r} is not a Unix time in seconds")
    whole, _, fraction = shown.partition(".")
    return in_range(int(whole) * 1_000_000 + int(fraction.ljust(6, "0") or 0), name, shown)


def in_range(us: int, name: str, shown: str) -> int:
    """The time, when it lies in the years 1990-2199; else a reject."""
    if not EARLIEST_US <= us < LATEST_US:
        raise RecordError(f"{name} {shown} is outside the years 1990-2199")
    return us


# -- what the vendor says about the visit -------------------------------------------

# Search engines and social sites as vendors name them, and the source GA4 uses.
_LABEL_SOURCES = {
    "google": "google",
    "adwords": "google",
    "bing": "bing",
    "microsoft": "bing",
    "yahoo": "yahoo",
    "duckduckgo": "duckduckgo",
    "facebook": "facebook",
    "instagram": "instagram",
    "meta": "facebook",
    "linkedin": "linkedin",
    "twitter": "twitter",
    "youtube": "youtube",
    "tiktok": "tiktok",
    "yelp": "yelp",
}
_PAID_WORDS = frozenset({"paid", "ppc", "cpc", "ads", "adwords", "sem"})
_ORGANIC_WORDS = frozenset({"organic", "seo"})
_DIRECT_WORDS = frozenset({"direct", "traffic", "visit", "none"})


def label_source(label: str | None) -> tuple[str, str | None] | None:
    """The source and medium a vendor's source name stands for, when it is a known one.

    >>> label_source("Google Paid")
    ('google', 'cpc')
    >>> label_source("google_organic")
    ('google', 'organic')
    >>> label_source("Direct")
    ('(direct)', '(none)')
    >>> label_source("Billboard I-95") is None
    True
    """
    if not label:
        return None
    words = [word for word in re.split(r"[^a-z0-9]+", label.lower()) if word]
    if "direct" in words and set(words) <= _DIRECT_WORDS:  # not "Direct Mail"
        return "(direct)", "(none)"
    source = next((_LABEL_SOURCES[word] for word in words if word in _LABEL_SOURCES), None)
    if source is None:
        return None
    if set(words) & _PAID_WORDS:
        return source, "cpc"
    if set(words) & _ORGANIC_WORDS:
        return source, "organic"
    return source, None


def attribution_columns(said: Attribution) -> dict[str, str | None]:
    """The `vendor_*` columns of what the vendor said, completed from its landing page.

    Precedence, as GA4 derives a session's source: the vendor's explicit utm fields,
    then its source name when it is a known one ("Google Paid"), then the landing
    page's own utm parameters and click id; a source name touchpoint does not know
    ("Billboard I-95") is kept last, so the user's channel rules can still match it.
    The referrer and click ids are classified by the build, like a session's.
    """
    landing = said.landing_page if said.landing_page and is_http_url(said.landing_page) else None
    facts = url_facts(landing) if landing else None
    from_page = facts.utm if facts else {}
    known = label_source(said.label)
    source = said.source or (known[0] if known else None) or from_page.get("utm_source")
    medium = said.medium
    if medium is None and known and not said.source:
        medium = known[1]
    medium = medium or from_page.get("utm_medium")
    click_id, click_param = said.click_id, said.click_id_param
    if click_id is None and facts is not None and facts.click_id is not None:
        click_id, click_param = facts.click_id, facts.click_id_param
    if source is None and click_id is None and said.referrer is None and said.label:
        source = said.label  # unknown to touchpoint, but the vendor's word for it
    referrer_host = host_of(said.referrer) if said.referrer else None
    if said.referrer and referrer_host is None and re.fullmatch(r"[A-Za-z0-9.-]+", said.referrer):
        referrer_host = said.referrer.lower().rstrip(".") or None  # a bare domain
    return {
        "vendor_source": source,
        "vendor_medium": medium,
        "vendor_campaign": said.campaign or from_page.get("utm_campaign"),
        "vendor_content": said.content or from_page.get("utm_content"),
        "vendor_term": said.term or from_page.get("utm_term"),
        "vendor_click_id": click_id,
        "vendor_click_id_param": click_param if click_id else None,
        "vendor_landing_page": said.landing_page,
        "vendor_referrer": said.referrer,
        "vendor_referrer_host": referrer_host,
        "vendor_landing_host": facts.host if facts else None,
    }


CLICK_ID_FIELDS = ("gclid", "gbraid", "wbraid", "msclkid", "fbclid", "li_fat_id", "ttclid")


def click_id_in(record: Mapping[str, Any], prefix: str = "") -> tuple[str | None, str | None]:
    """The first ad click id a record carries as its own field, and that field's name."""
    for name in CLICK_ID_FIELDS:
        value = text(field_at(record, prefix + name))
        if value is not None:
            return value, name
    return None, None


# -- the row ----------------------------------------------------------------------


def record_json(record: Any) -> str:
    """The record as one line of JSON, safe to store whatever text it holds."""
    shown = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
    return shown if _is_utf8(shown) else json.dumps(record, separators=(",", ":"), default=str)


@lru_cache(maxsize=65_536)
def e164(number: str | None, region: str) -> str | None:
    """`phones.to_e164`, remembered: tracking numbers repeat on every call they take."""
    return to_e164(number, region)


def call_row(call: VendorCall, record: Any, settings: Settings) -> dict[str, Any]:
    """The raw-calls row of a vendor's call (every column but arrival time and origin)."""
    region = settings.phone.default_region
    return {
        "source_system": call.source_system,
        "call_id": call.call_id,
        "external_id": call.external_id,
        "visitor_id": call.visitor_id,
        "called_at": from_us(call.called_us),
        "called_us": call.called_us,
        "activity_type": call.activity_type,
        "subject": None,
        "caller_number": e164(call.caller_number, region),
        "tracking_number": e164(call.tracking_number, region),
        "duration_s": call.duration_s,
        "who_id": None,
        "what_id": None,
        "call_type": call.call_type,
        "is_deleted": False,
        "version_us": call.version_us,
        **attribution_columns(call.attribution),
        "record": record_json(record),
        "record_hash": stable_hash(
            call.source_system, json.dumps(record, sort_keys=True, default=str)
        ),
    }
