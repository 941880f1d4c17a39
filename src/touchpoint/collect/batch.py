"""A request body → the framed intake-log records of its events and rejects.

A batch is a JSON array of events, `{"events": [...]}`, one event object, or
NDJSON (one event per line, as `navigator.sendBeacon` may send as
`text/plain`). Anything else is `NotABatch` (HTTP 400). Each event is checked
by `event_row`, the one specification of a valid event: a bad event becomes a
reject, with its index and reason, and never drops its neighbours (DESIGN §16)
— not even when its text is not Unicode (a lone UTF-16 surrogate such as
`"\ud83d"`, or bytes that are not UTF-8), which the fast JSON reader refuses
for the whole body: such a body is read again by Python's `json`, which keeps
those strings, and each event holding one is rejected alone.

The collector trusts only the clock it can check: an event whose `occurred_at`
lies further than `[collector] max_clock_skew` from its arrival takes the
arrival time, and keeps the time it was sent with in `sent_occurred_at`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from touchpoint.collect.frames import encode_record
from touchpoint.config import CollectorSettings
from touchpoint.sources.events import DEFAULT_PRIVACY, Privacy, event_row
from touchpoint.sources.records import RecordError, stable_hash, to_us

SOURCE = "collector"  # the `source` of the collector's rejects
ORIGIN = "collector"  # the `origin` of the raw events it lands

_decode = msgspec.json.Decoder().decode


class NotABatch(ValueError):
    """The body is not a batch of events; the message says why (HTTP 400)."""


class TooManyEvents(ValueError):
    """More events than `[collector] max_events_per_batch` (HTTP 413)."""


@dataclass(frozen=True, slots=True)
class Arrival:
    """What the server knows of a request besides its body."""

    received_at: datetime  # naive UTC
    user_agent: str | None
    client_ip: str | None  # already truncated, or None when IPs are not stored


@dataclass(frozen=True, slots=True)
class Rules:
    """What the `[collector]` settings say about every event: what is not kept, and the
    clock skew an event's time may have."""

    privacy: Privacy = DEFAULT_PRIVACY
    max_skew_us: int = 10 * 60 * 1_000_000  # 0: every time is taken as sent

    @classmethod
    def of(cls, settings: CollectorSettings) -> Rules:
        """The rules of the `[collector]` settings."""
        skew = settings.max_clock_skew // timedelta(microseconds=1)
        return cls(privacy=Privacy.of(settings), max_skew_us=skew)


@dataclass
class Collected:
    """One request's events, validated and framed for the intake log."""

    records: list[bytes] = field(default_factory=list)
    accepted: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {"index": i, "reason": ...}

    def response(self) -> dict[str, Any]:
        """The body of the 200 answer when some events were rejected (DESIGN §9)."""
        return {"accepted": self.accepted, "rejected": self.rejected}


def read_batch(body: bytes, max_events: int) -> list[Any]:
    """The events of a request body (each still unchecked), or `NotABatch` / `TooManyEvents`."""
    if not body.strip():
        raise NotABatch("the body is empty; send a JSON array of events")
    try:
        events = _events_of(_decode(body))
    except RecursionError:
        raise NotABatch("the body is nested too deeply") from None
    except msgspec.DecodeError as exc:
        # The fast reader refuses the whole body for one string that is not Unicode.
        try:
            parsed = _decode_leniently(body)
        except RecursionError:
            raise NotABatch("the body is nested too deeply") from None
        except ValueError:
            events = _ndjson(body, exc)
        else:
            events = [_checked(event) for event in _events_of(parsed)]
    if not events:
        raise NotABatch("the batch has no events")
    if len(events) > max_events:
        raise TooManyEvents(f"{len(events)} events in one batch; at most {max_events} are taken")
    return events


def _events_of(parsed: Any) -> list[Any]:
    if isinstance(parsed, dict):
        events = parsed.get("events", [parsed])
        if not isinstance(events, list):
            raise NotABatch('"events" must be an array of events')
        return events
    if isinstance(parsed, list):
        return parsed
    raise NotABatch("the body must be a JSON array of events, or one event object")


def _ndjson(body: bytes, error: msgspec.DecodeError) -> list[Any]:
    """Events of an NDJSON body; a line that is not JSON becomes a reject later."""
    lines = [line for line in body.splitlines() if line.strip()]
    if len(lines) < 2:
        raise NotABatch(f"the body is not JSON: {error}")
    try:
        first = _decode_line(lines[0])
    except (msgspec.DecodeError, ValueError, RecursionError):
        raise NotABatch(f"the body is not JSON or NDJSON: {error}") from None
    if not isinstance(first, dict | _BadText):
        raise NotABatch("NDJSON lines must be event objects")
    events: list[Any] = [first]
    for line in lines[1:]:
        try:
            events.append(_decode_line(line))
        except (msgspec.DecodeError, ValueError, RecursionError) as exc:
            events.append(_Unreadable(line, str(exc)))
    return events


def _decode_line(line: bytes) -> Any:
    try:
        return _decode(line)
    except msgspec.DecodeError:
        return _checked(_decode_leniently(line))


def _decode_leniently(body: bytes) -> Any:
    """JSON as Python reads it, keeping lone surrogates; bytes that are not UTF-8 become
    surrogates too (`surrogateescape`). `ValueError` when it is not JSON all the same."""
    return json.loads(body.decode("utf-8", "surrogateescape"), parse_constant=_no_constant)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _checked(event: Any) -> Any:
    """The event, or a `_BadText` when it holds text that is not Unicode."""
    where = _bad_text(event)
    return event if where is None else _BadText(event, where)


def _bad_text(value: Any) -> str | None:
    """The top-level field of an event whose text (name or value, at any depth) is not
    Unicode; "" for the event itself; None when all is well."""
    try:
        if isinstance(value, dict):
            for name, inner in value.items():
                if _not_unicode(name) or _bad_text(inner) is not None:
                    return _shown(name)
            return None
        if isinstance(value, list):
            return "" if any(_bad_text(inner) is not None for inner in value) else None
        return "" if isinstance(value, str) and _not_unicode(value) else None
    except RecursionError:
        return ""


def _not_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _shown(name: str) -> str:
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(frozen=True, slots=True)
class _Unreadable:
    line: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class _BadText:
    event: Any
    field: str  # "" when the event is a string or array rather than an object


def collect(events: list[Any], arrival: Arrival, rules: Rules = Rules()) -> Collected:
    """Validate each event and frame its raw row, or its reject, for the intake log."""
    out = Collected()
    received_us = to_us(arrival.received_at.replace(tzinfo=UTC))
    for index, event in enumerate(events):
        try:
            row = _row(event, arrival, rules.privacy)
            if rules.max_skew_us and abs(row["occurred_us"] - received_us) > rules.max_skew_us:
                row["sent_occurred_at"] = row["occurred_at"]
                row["occurred_at"] = arrival.received_at
                row["occurred_us"] = received_us
            out.records.append(encode_record("raw_events", row))
        except RecordError as exc:
            _reject(out, index, event, str(exc), arrival)
        except (ValueError, TypeError, OverflowError, RecursionError, msgspec.EncodeError) as exc:
            # Input event_row did not foresee (e.g. text with lone surrogates): still a
            # reject of this event only, never an error of the request.
            _reject(out, index, event, f"unreadable event ({type(exc).__name__})", arrival)
        else:
            out.accepted += 1
    return out


def _row(event: Any, arrival: Arrival, privacy: Privacy) -> dict[str, Any]:
    if isinstance(event, _Unreadable):
        raise RecordError(f"line is not JSON: {event.reason}")
    if isinstance(event, _BadText):
        where = f"{event.field} " if event.field else ""
        raise RecordError(
            f"{where}is not valid text: a lone UTF-16 surrogate or bytes that are not UTF-8"
        )
    if not isinstance(event, dict):
        raise RecordError("an event must be a JSON object")
    if event.get("user_agent") is None and arrival.user_agent:
        event = {**event, "user_agent": arrival.user_agent}
    row = event_row(event, privacy=privacy)
    row["client_ip"] = arrival.client_ip
    row["received_at"] = arrival.received_at
    row["origin"] = ORIGIN
    return row


def _reject(out: Collected, index: int, event: Any, reason: str, arrival: Arrival) -> None:
    record = _as_received(event)
    out.rejected.append({"index": index, "reason": reason})
    out.records.append(
        encode_record(
            "rejects",
            {
                "source": SOURCE,
                "record": record,
                "reason": reason,
                "rejected_at": arrival.received_at,
                "kind": "events",
                "record_hash": stable_hash("events", SOURCE, record),
            },
        )
    )


def _as_received(event: Any) -> str:
    """The event as one line of JSON text that is safe to store (lone surrogates escaped)."""
    if isinstance(event, _Unreadable):
        text = event.line.decode("utf-8", "backslashreplace")
    else:
        if isinstance(event, _BadText):
            event = event.event
        try:
            text = json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)
        except RecursionError:
            text = '"(an event nested too deeply to keep)"'
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
