"""Webhook signatures (DESIGN §9), checked on the raw request before anything is parsed.

- CallRail: header `Signature` = base64 HMAC-SHA1 of the raw body, keyed with the
  company's signing key.
- CallTrackingMetrics: header `X-CTM-Signature` = base64 HMAC-SHA1 of the
  `X-CTM-Time` header's value followed by the raw body, keyed with the webhook's
  secret; `X-CTM-Time` (Unix seconds) also allows a replay window.
- Twilio: header `X-Twilio-Signature` = base64 HMAC-SHA1 of the full URL Twilio
  requested (`[server] public_url` + path + query) followed by each form
  parameter's name and value, sorted by name, keyed with the auth token. As
  Twilio's own validator does, the URL is tried with and without its default
  port.
- Invoca signs nothing: its endpoint takes a secret token in the URL
  (`tokens_match`).

Every comparison takes constant time. A failed check raises `SignatureError`,
whose message says why (the endpoint answers 401 and stores nothing).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

CALLRAIL_HEADER = "Signature"
CTM_HEADER = "X-CTM-Signature"
CTM_TIME_HEADER = "X-CTM-Time"
TWILIO_HEADER = "X-Twilio-Signature"
TWILIO_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
_TWILIO_HASHES = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}


class SignatureError(Exception):
    """Why a webhook's signature was refused (a missing header, a mismatch, an old request)."""


class NotReadable(ValueError):
    """A body that cannot even be checked (Twilio's form is not a form): HTTP 400."""


def _digest(key: str, message: bytes, hash_function=hashlib.sha1) -> str:
    mac = hmac.new(key.encode("utf-8"), message, hash_function)
    return base64.b64encode(mac.digest()).decode("ascii")


def _matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("ascii"), given.strip().encode("utf-8", "replace"))


def _require(secret: str, vendor: str, setting: str) -> None:
    if not secret:
        raise SignatureError(f"no {vendor} secret is set ([webhooks] {setting})")


# -- CallRail -------------------------------------------------------------------------


def callrail_signature(body: bytes, signing_key: str) -> str:
    """The `Signature` header CallRail sends with this body."""
    return _digest(signing_key, body)


def verify_callrail(body: bytes, signature: str | None, signing_key: str) -> None:
    """Accept a CallRail webhook, or raise `SignatureError`."""
    _require(signing_key, "CallRail", "callrail_secret")
    if not signature:
        raise SignatureError(f"the {CALLRAIL_HEADER} header is missing")
    if not _matches(callrail_signature(body, signing_key), signature):
        raise SignatureError(f"the {CALLRAIL_HEADER} header does not match the body")


# -- CallTrackingMetrics --------------------------------------------------------------


def ctm_signature(body: bytes, timestamp: str, secret: str) -> str:
    """The `X-CTM-Signature` header CTM sends with this body and `X-CTM-Time`."""
    return _digest(secret, timestamp.encode("utf-8") + body)


def verify_ctm(
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    secret: str,
    *,
    replay_window_s: float = 0,
    now: float | None = None,
) -> None:
    """Accept a CTM webhook, or raise `SignatureError`.

    With a replay window (seconds, 0 = off), a request signed longer ago than that,
    or further in the future, is refused even when its signature matches.
    """
    _require(secret, "CallTrackingMetrics", "ctm_secret")
    if not signature:
        raise SignatureError(f"the {CTM_HEADER} header is missing")
    if timestamp is None or not timestamp.strip():
        raise SignatureError(f"the {CTM_TIME_HEADER} header is missing")
    timestamp = timestamp.strip()
    if not _matches(ctm_signature(body, timestamp, secret), signature):
        raise SignatureError(
            f"the {CTM_HEADER} header does not match {CTM_TIME_HEADER} and the body"
        )
    if replay_window_s > 0:
        try:
            signed_at = float(timestamp)
        except ValueError:
            raise SignatureError(f"{CTM_TIME_HEADER} {timestamp!r} is not a Unix time") from None
        age = (time.time() if now is None else now) - signed_at
        if abs(age) > replay_window_s:
            raise SignatureError(
                f"the request was signed {abs(age):.0f} s {'ago' if age > 0 else 'ahead'}; "
                f"the replay window is {replay_window_s:g} s"
            )


# -- Twilio -------------------------------------------------------------------------

FormParams = Mapping[str, str | Sequence[str]]


def twilio_url(public_url: str, path: str, query: str = "") -> str:
    """The URL Twilio signs: the server's public address, the request path and query."""
    base = public_url.rstrip("/")
    return base + "/" + path.lstrip("/") + (f"?{query}" if query else "")


def twilio_signature(
    url: str, params: FormParams, auth_token: str, algorithm: str = "HMAC_SHA1"
) -> str:
    """The `X-Twilio-Signature` Twilio sends for a form POST to this URL."""
    hash_function = _TWILIO_HASHES.get(algorithm.upper())
    if hash_function is None:
        raise SignatureError(f"Twilio signature algorithm {algorithm!r} is not supported")
    message = url
    for name in sorted(set(params)):
        values = params[name]
        for value in sorted(set([values] if isinstance(values, str) else values)):
            message += name + value
    return _digest(auth_token, message.encode("utf-8"), hash_function)


def twilio_algorithm(settings_header: str | None) -> str:
    """The algorithm named in `X-Twilio-Webhooks-Signature-Settings` (HMAC_SHA1 without one)."""
    for part in (settings_header or "").split(","):
        name, separator, value = part.partition("=")
        if separator and name.strip() == "algorithm" and value.strip():
            return value.strip()
    return "HMAC_SHA1"


def _with_and_without_port(url: str) -> list[str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    credentials = parts.netloc.rpartition("@")[0]
    prefix = credentials + "@" if credentials else ""
    default = 443 if parts.scheme == "https" else 80
    try:
        port = parts.port or default
    except ValueError:
        return [url]
    with_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{port}"))
    without_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}"))
    return [url, without_port, with_port]


def verify_twilio(
    url: str,
    params: FormParams,
    signature: str | None,
    auth_token: str,
    algorithm: str = "HMAC_SHA1",
) -> None:
    """Accept a Twilio status callback (form parameters as received), or raise `SignatureError`."""
    _require(auth_token, "Twilio", "twilio_auth_token")
    if not signature:
        raise SignatureError(f"the {TWILIO_HEADER} header is missing")
    for candidate in _with_and_without_port(url):
        if _matches(twilio_signature(candidate, params, auth_token, algorithm), signature):
            return
    raise SignatureError(
        f"the {TWILIO_HEADER} header does not match the URL {url} and the form parameters "
        "(is [server] public_url the address Twilio calls?)"
    )


# -- Invoca ---------------------------------------------------------------------------


def tokens_match(given: str | None, expected: str) -> bool:
    """Does the token in the URL equal the configured one (constant time; none set: no)?"""
    if not expected or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))
