"""How a call went, in touchpoint's words (DESIGN §12): direction, status, value, tags.

Every vendor says these things in its own words (`Inbound`, `outbound-api`,
`no-answer`, `Connected`, `"$1,250.00"`, tags as strings or as objects); these
readers turn them into the `calls` table's values. A word touchpoint does not
know is no value (None), never a guess, and never a reject: the call still lands.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from touchpoint.sources.vendors.fields import text

DIRECTIONS = ("inbound", "outbound")
STATUSES = ("answered", "missed", "voicemail", "abandoned", "busy", "failed")
KINDS = ("call", "text", "form")
# An Invoca signal: a raw row whose value is its call's, never a call, text or form.
SIGNAL_KIND = "signal"

# Vendors' words for how a call ended, lower case with `-` and `_` as spaces.
_STATUS_WORDS = {
    **{status: status for status in STATUSES},
    "completed": "answered",  # Twilio, CTM's dial_status: the call was answered and ended
    "connected": "answered",  # Invoca
    "no answer": "missed",
    "noanswer": "missed",
    "unanswered": "missed",
    "not answered": "missed",
    "voice mail": "voicemail",
    "voicemail transcription": "voicemail",  # CallRail's call_type
    "canceled": "abandoned",  # Twilio: the caller hung up before it was answered
    "cancelled": "abandoned",
}
_DIRECTION_WORDS = {
    "inbound": "inbound",
    "incoming": "inbound",
    "in": "inbound",
    "msg inbound": "inbound",  # CTM's text messages
    "outbound": "outbound",
    "outgoing": "outbound",
    "out": "outbound",
    "outbound api": "outbound",  # Twilio
    "outbound dial": "outbound",
    "msg outbound": "outbound",
}
_MONEY = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def _word(value: Any) -> str | None:
    shown = text(value)
    if shown is None:
        return None
    return " ".join(re.split(r"[\s_-]+", shown.lower())).strip() or None


def direction_of(value: Any) -> str | None:
    """`inbound` or `outbound` for a vendor's direction word, else None.

    >>> [direction_of(v) for v in ("Inbound", "outbound-api", "OUTBOUND", "form")]
    ['inbound', 'outbound', 'outbound', None]
    """
    word = _word(value)
    return _DIRECTION_WORDS.get(word) if word else None


def status_of(value: Any) -> str | None:
    """One of `STATUSES` for a vendor's word for how the call ended, else None.

    >>> [status_of(v) for v in ("completed", "no-answer", "Busy", "ringing")]
    ['answered', 'missed', 'busy', None]
    """
    word = _word(value)
    return _STATUS_WORDS.get(word) if word else None


def first_status(record: Mapping[str, Any], *names: str) -> str | None:
    """The status of the first of these fields whose word touchpoint knows."""
    for name in names:
        found = status_of(record.get(name))
        if found is not None:
            return found
    return None


def money(value: Any) -> float | None:
    """A value in the vendor's currency: 125, "125.50", "$1,250.00"; else None.

    >>> [money(v) for v in (125, "125.50", "$1,250.00", "", "--", True)]
    [125.0, 125.5, 1250.0, None, None, None]
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
        return number if math.isfinite(number) else None
    shown = text(value)
    if shown is None:
        return None
    bare = shown.replace(",", "").replace(" ", "").lstrip("$€£")
    if not _MONEY.fullmatch(bare):
        return None
    number = float(bare)
    return number if math.isfinite(number) else None


def tag_names(value: Any) -> tuple[str, ...]:
    """Tags as names, in order, each once: a list of names or `{"name": ...}`, or "a, b".

    A comma inside a tag's name would split it when stored comma-joined, so it
    becomes a space; runs of white space become one.

    >>> tag_names([{"name": "New Patient", "color": "red"}, "spam", "spam"])
    ('New Patient', 'spam')
    >>> tag_names("quote, booked")
    ('quote', 'booked')
    """
    if isinstance(value, list):
        named = [item.get("name") if isinstance(item, Mapping) else item for item in value]
        names = [shown.replace(",", " ") for shown in map(text, named) if shown is not None]
    else:
        shown = text(value)
        names = shown.split(",") if shown else []
    spaced = (" ".join(name.split()) for name in names)  # one space, none at the ends
    return tuple(dict.fromkeys(name for name in spaced if name))
