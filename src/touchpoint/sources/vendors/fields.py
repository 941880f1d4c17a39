"""Reading one field of a vendor's record: text, ids, seconds, times, visitor ids, forms.

Vendors send numbers as strings and strings as numbers, booleans as `"true"` or
`""`, times in their own layouts; these readers take what each vendor really
sends and raise `RecordError` (a reject, with a reason) for what cannot be read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, unquote

from touchpoint.sources.records import EARLIEST_US, LATEST_US, RecordError, to_us
from touchpoint.sources.urls import WHITESPACE

MAX_ID_CHARS = 255
MAX_SECONDS = 10 * 365 * 86_400  # a duration beyond ten years is not a call's
VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# What a vendor's script writes when the cookie was not there.
NO_VISITOR = frozenset({"undefined", "null", "none", "nan", "false"})


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
    if not shown or not is_utf8(shown):
        return None
    return shown


def is_utf8(value: str) -> bool:
    """Can this text be stored as UTF-8 (no lone surrogate)?"""
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


def captured_cookie(found: Any, name: str) -> str | None:
    """The value of cookie `name` among captured cookies: an object of name → value, a
    list of `{"name": ..., "value": ...}`, or a `Cookie` header's `a=1; b=2`.

    >>> captured_cookie({"_tp_uid": "v1", "_ga": "GA1.1.2"}, "_tp_uid")
    'v1'
    >>> captured_cookie([{"name": "_tp_uid", "value": "v2"}], "_tp_uid")
    'v2'
    >>> captured_cookie("_ga=GA1.1.2; _tp_uid=v3", "_tp_uid")
    'v3'
    """
    if isinstance(found, Mapping):
        return text(found.get(name))
    if isinstance(found, list):
        for item in found:
            if isinstance(item, Mapping) and text(item.get("name")) == name:
                return text(item.get("value"))
        return None
    shown = text(found)
    if shown is None or "=" not in shown:
        return None
    for pair in shown.split(";"):
        key, _, value = pair.partition("=")
        if key.strip() == name:
            return text(unquote(value.strip().strip('"')))
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


def form_fields(body: bytes) -> dict[str, list[str]]:
    """A form-encoded body as name → values (what Twilio signs), or `RecordError`."""
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RecordError("the form body is not UTF-8 text") from None
    try:
        return parse_qs(decoded, keep_blank_values=True, strict_parsing=bool(decoded))
    except ValueError:
        raise RecordError("the body is not a form (name=value&...)") from None


def single_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """One value per name (the first), from `form_fields` or any mapping."""
    return {
        name: (values[0] if values else None) if isinstance(values, list) else values
        for name, values in fields.items()
    }
