"""Phone numbers in one form (E.164), so a caller matches a lead's phone."""

from __future__ import annotations

import phonenumbers


def to_e164(number: str | None, default_region: str) -> str | None:
    """The E.164 form of a phone number, or None when it is not a dialable number.

    >>> to_e164("(415) 555-0132", "US")
    '+14155550132'
    >>> to_e164("+44 20 7946 0958", "US")
    '+442079460958'
    >>> to_e164("Restricted", "US") is None
    True
    """
    if not number or not number.strip():
        return None
    try:
        parsed = phonenumbers.parse(number.strip(), default_region.upper())
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
