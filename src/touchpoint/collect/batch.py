"""A request body → the framed intake-log records of its events and rejects.

A batch is a JSON array of events, `{"events": [...]}`, one event object, or
NDJSON (one event per line, as `navigator.sendBeacon` may send as
`text/plain`). Anything else is `NotABatch` (HTTP 400). Each event is checked
by `event_row`, the one specification of a valid event: a bad event becomes a
reject, with its index and reason, and never drops its neighbours.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from touchpoint.collect.frames import encode_record
from touchpoint.sources.events import event_row
from touchpoint.sources.records import RecordError, stable_hash

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
        parsed = _decode(body)
    except RecursionError:
        raise NotABatch("the body is nested too deeply") from None
    except msgspec.DecodeError as exc:
        events = _ndjson(body, exc)
    else:
        if isinstance(parsed, dict):
            events = parsed.get("events", [parsed])
            if not isinstance(events, list):
                raise NotABatch('"events" must be an array of events')
        elif isinstance(parsed, list):
            events = parsed
        else:
            raise NotABatch("the body must be a JSON array of events, or one event object")
    if not events:
        raise NotABatch("the batch has no events")
    if len(events) > max_events:
        raise TooManyEvents(f"{len(events)} events in one batch; at most {max_events} are taken")
    return events


def _ndjson(body: bytes, error: msgspec.DecodeError) -> list[Any]:
    """Events of an NDJSON body; a line that is not JSON becomes a reject later."""
    lines = [line for line in body.splitlines() if line.strip()]
    if len(lines) < 2:
        raise NotABatch(f"the body is not JSON: {error}")
    try:
        first = _decode(lines[0])
    except (msgspec.DecodeError, RecursionError):
        raise NotABatch(f"the body is not JSON or NDJSON: {error}") from None
    if not isinstance(first, dict):
        raise NotABatch("NDJSON lines must be event objects")
    events: list[Any] = [first]
    for line in lines[1:]:
        try:
            events.append(_decode(line))
        except (msgspec.DecodeError, RecursionError) as exc:
            events.append(_Unreadable(line, str(exc)))
    return events


@dataclass(frozen=True, slots=True)
class _Unreadable:
    line: bytes
    reason: str


def collect(events: list[Any], arrival: Arrival) -> Collected:
    """Validate each event and frame its raw row, or its reject, for the intake log."""
    out = Collected()
    for index, event in enumerate(events):
        try:
            out.records.append(encode_record("raw_events", _row(event, arrival)))
        except RecordError as exc:
            _reject(out, index, event, str(exc), arrival)
        except (ValueError, TypeError, OverflowError, RecursionError, msgspec.EncodeError) as exc:
            # Input event_row did not foresee (e.g. text with lone surrogates): still a
            # reject of this event only, never an error of the request.
            _reject(out, index, event, f"unreadable event ({type(exc).__name__})", arrival)
        else:
            out.accepted += 1
    return out


def _row(event: Any, arrival: Arrival) -> dict[str, Any]:
    if isinstance(event, _Unreadable):
        raise RecordError(f"line is not JSON: {event.reason}")
    if not isinstance(event, dict):
        raise RecordError("an event must be a JSON object")
    if event.get("user_agent") is None and arrival.user_agent:
        event = {**event, "user_agent": arrival.user_agent}
    row = event_row(event)
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
        try:
            text = json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str)
        except RecursionError:
            text = '"(an event nested too deeply to keep)"'
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
