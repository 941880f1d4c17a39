"""Twilio's voice request, "A call comes in" (DESIGN §15): the call logged, then answered.

When a call reaches a tracking number whose "A call comes in" webhook is
`/webhooks/twilio/voice`, Twilio POSTs the call's form parameters (`CallSid`,
`AccountSid`, `From`, `To`, `CallStatus` `ringing`, `Direction` `inbound`,
`ApiVersion`, `Caller`, `Called` and the `From…`/`To…` places) and waits for TwiML
saying what to do. The call is logged first, as a raw-calls row whose call time is
when the request arrived (the request carries no `Timestamp`); then:

- `To` is a number of a `[[numbers.pools]]` pool (one of its `numbers`, or its
  `fallback`): `<Dial callerId="{From}"><Number>{forward_to}</Number></Dial>`,
  the caller forwarded with their own number shown. `callerId` is left out when
  `From` is not an E.164 number (an anonymous caller): Twilio then shows its default.
- `To` is a pool's `replace` number (a Twilio number too, dialled from a printed
  ad): the same dial to `forward_to`, when that is another number. Such a call is
  not a pool call (no visitor is matched to it).
- `To` is in no pool, or the pool would forward it to the number called (a loop):
  `<Reject reason="rejected"/>`. The caller hears Twilio's standard "not in
  service" message, never "an application error has occurred", and Twilio does not
  bill a rejected call. The call is still logged, and the answer's note says why.

The status callbacks of the same call (`/webhooks/twilio`, `twilio.py`) are further
versions of it, ranked by `version_us`: any event before the end (`queued`,
`ringing`, `in-progress`) < the voice request < the final event (`completed`,
`busy`, `no-answer`, `failed`, `canceled`), whatever order they arrive in and
whatever the difference between Twilio's clock and this server's (`CLOCK_MARGIN_US`).
So the final event's duration and status win, and the call keeps its start: the
final event's `Timestamp` less its `CallDuration`, or until then the voice request's
arrival.

TwiML is built with `xml.etree` (every value escaped), in the layout Twilio's own
`VoiceResponse` writes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree

from touchpoint.config import Settings
from touchpoint.sources.vendors.call_facts import direction_of, status_of
from touchpoint.sources.vendors.calls import VendorCall, call_row, e164
from touchpoint.sources.vendors.fields import call_id, single_values, text
from touchpoint.sources.vendors.vendor import CallAnswer, CallControl

SOURCE_SYSTEM = "twilio"
VOICE_PATH = "/webhooks/twilio/voice"
FINISHED = ("completed", "busy", "no-answer", "failed", "canceled")
# More than Twilio's clock and this server's can differ by; versions compare per call only.
CLOCK_MARGIN_US = 3_600 * 1_000_000
TWIML = "text/xml"
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def event_version(fired_us: int, sequence: int, status: str) -> int:
    """The version of a status callback: a final event outranks the voice request, others not."""
    if status in FINISHED:
        return fired_us + sequence
    return fired_us + sequence - 2 * CLOCK_MARGIN_US


def voice_row(fields: Mapping[str, Any], settings: Settings, received_us: int) -> dict[str, Any]:
    """The raw-calls row of one voice request (form fields); `RecordError` otherwise."""
    values = single_values(fields)
    status = (text(values.get("CallStatus")) or "").lower()
    call = VendorCall(
        source_system=SOURCE_SYSTEM,
        call_id=call_id(values.get("CallSid"), "CallSid"),
        called_us=received_us,
        version_us=received_us - CLOCK_MARGIN_US,
        caller_number=text(values.get("From")),
        tracking_number=text(values.get("To")),
        call_type=(text(values.get("Direction")) or "").lower() or None,
        direction=direction_of(values.get("Direction")),
        # ringing (as a voice request always is), in-progress: not over yet, no status
        status=status_of(status) if status in FINISHED else None,
    )
    return call_row(call, values, settings)


def voice_answer(fields: Mapping[str, Any], settings: Settings) -> CallAnswer:
    """The TwiML for a voice request: dial the pool's `forward_to`, or reject the call."""
    values = single_values(fields)
    called = text(values.get("To"))
    number = e164(called, settings.phone.default_region) if called else None
    if number is None:
        return CallAnswer(reject_twiml(), TWIML, f"rejected a call to {called!r}: no phone number")
    numbers = settings.numbers
    pool = numbers.pool_for_number(number) or next(
        (pool for pool in numbers.pools if pool.replace == number), None
    )
    if pool is None:
        note = f"rejected a call to {number}: it is in no [[numbers.pools]]"
        return CallAnswer(reject_twiml(), TWIML, note)
    forward_to = pool.forward_to or pool.replace
    if forward_to == number:
        note = f"rejected a call to {number}: pool {pool.name} would forward it to itself"
        return CallAnswer(reject_twiml(), TWIML, note)
    caller = text(values.get("From"))
    shown = caller if caller and _E164.fullmatch(caller) else None
    return CallAnswer(dial_twiml(forward_to, shown), TWIML)


def dial_twiml(forward_to: str, caller_id: str | None) -> bytes:
    """`<Response><Dial callerId=…><Number>forward_to</Number></Dial></Response>`."""
    response = ElementTree.Element("Response")
    dial = ElementTree.SubElement(response, "Dial", {"callerId": caller_id} if caller_id else {})
    ElementTree.SubElement(dial, "Number").text = forward_to
    return _document(response)


def reject_twiml() -> bytes:
    """`<Response><Reject reason="rejected" /></Response>`: "not in service", not billed."""
    response = ElementTree.Element("Response")
    ElementTree.SubElement(response, "Reject", {"reason": "rejected"})
    return _document(response)


def _document(response: ElementTree.Element) -> bytes:
    return _DECLARATION + ElementTree.tostring(response, encoding="unicode").encode("utf-8")


VOICE = CallControl(row=voice_row, answer=voice_answer)
