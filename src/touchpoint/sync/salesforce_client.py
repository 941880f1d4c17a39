"""A signed-in Salesforce REST connection for the sync: sign-in, retries, the API allowance.

Signing in is OAuth 2.0 against `{login_url}/services/oauth2/token`, with the
client-credentials grant or the JWT bearer grant (an RS256 assertion signed
with the connected app's key), or an existing session id and instance URL.
simple-salesforce does the REST calls; it builds token URLs only as
`https://{domain}.salesforce.com`, so the token request is made here, on the
same requests session, against whatever `login_url` says.

Transient failures (5xx, 429 and REQUEST_LIMIT_EXCEEDED, dropped connections,
timeouts) are retried with exponential backoff; an expired session
(401 INVALID_SESSION_ID) signs in again once and repeats the request. Every
answer's `Sforce-Limit-Info` header says how much of the org's API allowance
is used; when less than `[salesforce] api_limit_reserve` is left, the next
request raises `ApiLimitReached` instead of being sent. Secrets (the client
secret, the key, tokens) never appear in a message.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import jwt
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession
from simple_salesforce.util import Usage

from touchpoint.config import SalesforceSettings
from touchpoint.errors import TouchpointError

T = TypeVar("T")
TIMEOUT = (15, 300)  # seconds to connect, seconds to wait for an answer
MAX_BACKOFF_S = 60.0
LIMIT_CODES = ("REQUEST_LIMIT_EXCEEDED",)
NOT_CONNECTED = (
    "connect a Salesforce org first: set [salesforce] client_id and client_secret (client "
    "credentials), or client_id, username and private_key_file (JWT bearer), or session_id "
    "and instance_url (see docs/salesforce.md)"
)


class ApiLimitReached(Exception):
    """The org's API allowance is (nearly) used up: stop cleanly, the next run resumes."""


class _Transient(Exception):
    """A failure worth retrying; `limited` when Salesforce is refusing for load or quota."""

    def __init__(self, message: str, limited: bool = False):
        super().__init__(message)
        self.limited = limited


def grant(settings: SalesforceSettings) -> str | None:
    """The OAuth grant the settings allow: "jwt", "client_credentials", or None (session only)."""
    if not settings.client_id:
        if settings.client_secret or settings.username:
            raise TouchpointError(
                "[salesforce] client_id (the connected app's consumer key) is empty"
            )
        return None
    if settings.username and (settings.private_key or settings.private_key_file):
        return "jwt"
    if settings.client_secret:
        return "client_credentials"
    raise TouchpointError(
        "[salesforce] client_id needs client_secret (client credentials) or username and "
        "private_key_file (JWT bearer)"
    )


class SalesforceClient:
    """One REST connection: `connect()`, then `query` and `query_more` with retries."""

    def __init__(
        self, settings: SalesforceSettings, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        self.grant = grant(settings)
        if self.grant is None and not settings.session_id:
            raise TouchpointError(NOT_CONNECTED)
        if settings.session_id and not settings.instance_url:
            raise TouchpointError("[salesforce] session_id needs instance_url too")
        self.version = settings.api_version.strip().removeprefix("v")
        self.http = requests.Session()
        # Per request, not only on the session: requests lets REQUESTS_CA_BUNDLE override a
        # session's `verify`, and ca_bundle must win.
        self.options: dict[str, Any] = {"timeout": TIMEOUT}
        if settings.ca_bundle:
            self.http.verify = self.options["verify"] = _ca_bundle(settings)
        self.api: Salesforce | None = None
        self.instance_url = ""
        self.usage: Usage | None = None

    def close(self) -> None:
        self.http.close()

    def connect(self) -> None:
        """Use the configured session, or sign in with the OAuth grant."""
        if self.settings.session_id:
            self._use(self.settings.session_id, self.settings.instance_url)
        else:
            self._use(*self._sign_in())

    def query(self, soql: str, what: str) -> dict[str, Any]:
        """The first page of a SOQL query over live and deleted records (`queryAll`)."""
        return self._rest(what, lambda api: api.query(soql, include_deleted=True, **self.options))

    def query_more(self, next_records_url: str, what: str) -> dict[str, Any]:
        """The page at a `nextRecordsUrl`."""
        return self._rest(
            what,
            lambda api: api.query_more(next_records_url, identifier_is_url=True, **self.options),
        )

    def remaining(self) -> int | None:
        """API calls left today by the last `Sforce-Limit-Info` header (None before one came)."""
        return None if self.usage is None else self.usage.total - self.usage.used

    # -- requests -------------------------------------------------------------

    def _use(self, token: str, instance_url: str) -> None:
        url = instance_url.strip().rstrip("/")
        self.instance_url = url if "://" in url else f"https://{url}"
        self.api = Salesforce(
            instance_url=self.instance_url,
            session_id=token,
            version=self.version,
            session=self.http,
            object_pairs_hook=dict,
        )

    def _rest(self, what: str, send: Callable[[Salesforce], Any]) -> dict[str, Any]:
        remaining = self.remaining()
        if remaining is not None and remaining < self.settings.api_limit_reserve:
            assert self.usage is not None
            raise ApiLimitReached(
                f"Salesforce API usage is {self.usage.used:,} of {self.usage.total:,} calls today, "
                f"fewer than [salesforce] api_limit_reserve = {self.settings.api_limit_reserve:,} left"
            )
        refreshed = False
        while True:
            try:
                result = self._retrying(lambda: self._classified(what, send))
            except SalesforceExpiredSession:
                if self.grant is None:
                    raise TouchpointError(
                        "Salesforce says the session has expired or is invalid "
                        "(INVALID_SESSION_ID): set a new [salesforce] session_id, or a connected "
                        "app's client_id to sign in with"
                    ) from None
                if refreshed:
                    raise TouchpointError(
                        f"Salesforce refused {what} with a fresh session too (INVALID_SESSION_ID)"
                    ) from None
                self._use(*self._sign_in())
                refreshed = True
                continue
            assert self.api is not None
            self.usage = self.api.api_usage.get("api-usage", self.usage)  # type: ignore[assignment]
            return dict(result)

    def _classified(self, what: str, send: Callable[[Salesforce], Any]) -> Any:
        """Send one request; sort its failure into expired, transient or hard."""
        assert self.api is not None
        try:
            return send(self.api)
        except SalesforceExpiredSession:
            raise
        except SalesforceError as exc:
            code, message = _error_of(exc.content)
            said = f"{code}: {message}" if code else message
            if exc.status == 429 or code in LIMIT_CODES:
                raise _Transient(
                    f"Salesforce is limiting requests ({said})", limited=True
                ) from None
            if exc.status >= 500:
                raise _Transient(f"Salesforce answered {exc.status} to {what} ({said})") from None
            hint = " (check the [salesforce] field settings)" if code == "INVALID_FIELD" else ""
            raise TouchpointError(f"Salesforce refused {what}: {said}{hint}") from None
        except requests.exceptions.JSONDecodeError:  # a proxy's page, half an answer
            raise _Transient(f"Salesforce's answer to {what} was not JSON") from None

    def _retrying(self, send: Callable[[], T]) -> T:
        """`send()`, again after a growing pause while it fails transiently."""
        attempt = 0
        while True:
            try:
                return send()
            except requests.exceptions.SSLError as exc:
                raise TouchpointError(
                    f"cannot make a trusted connection to Salesforce: {_connection_problem(exc)} "
                    "(a private CA goes in [salesforce] ca_bundle)"
                ) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem, limited = f"cannot reach Salesforce: {_connection_problem(exc)}", False
            except _Transient as exc:
                problem, limited = str(exc), exc.limited
            attempt += 1
            if attempt > self.settings.retries:
                if limited:
                    raise ApiLimitReached(problem)
                tries = f"{attempt} attempts" if attempt > 1 else "1 attempt"
                raise TouchpointError(f"{problem}; gave up after {tries}")
            self.sleep(self._backoff(attempt))

    def _backoff(self, attempt: int) -> float:
        base = self.settings.retry_backoff.total_seconds() * 2 ** (attempt - 1)
        return min(base, MAX_BACKOFF_S) * random.uniform(0.75, 1.0)  # jitter: apart, not in step

    # -- signing in -----------------------------------------------------------

    def _sign_in(self) -> tuple[str, str]:
        """(access token, instance URL) from the OAuth token endpoint."""
        url = self.settings.login_url.strip().rstrip("/") + "/services/oauth2/token"
        if not url.startswith("https://"):
            raise TouchpointError(f"[salesforce] login_url must start with https:// ({url})")
        return self._retrying(lambda: self._request_token(url))

    def _request_token(self, url: str) -> tuple[str, str]:
        form = self._token_form()
        response = self.http.post(
            url, data=form, headers={"Accept": "application/json"}, **self.options
        )
        if response.status_code == 429 or response.status_code >= 500:
            raise _Transient(f"Salesforce sign-in answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise TouchpointError(
                f"Salesforce sign-in at {url} answered {response.status_code} without JSON"
            )
        if response.status_code != 200:
            error = body.get("error") or response.status_code
            description = body.get("error_description") or "no reason given"
            raise TouchpointError(f"Salesforce sign-in failed ({error}): {description}")
        token, instance = body.get("access_token"), body.get("instance_url")
        if not isinstance(token, str) or not isinstance(instance, str) or not token or not instance:
            raise TouchpointError(
                "Salesforce sign-in answered without access_token and instance_url"
            )
        return token, instance

    def _token_form(self) -> dict[str, str]:
        settings = self.settings
        if self.grant == "client_credentials":
            return {
                "grant_type": "client_credentials",
                "client_id": settings.client_id,
                "client_secret": settings.client_secret,
            }
        claims = {
            "iss": settings.client_id,
            "sub": settings.username,
            "aud": (settings.jwt_audience or settings.login_url).strip().rstrip("/"),
            "exp": datetime.now(UTC) + timedelta(minutes=3),
        }
        try:
            assertion = jwt.encode(claims, _private_key(settings), algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError):
            raise TouchpointError(
                "the [salesforce] private key is not an RSA private key in PEM form"
            ) from None
        return {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}


def _private_key(settings: SalesforceSettings) -> str:
    if settings.private_key:
        return settings.private_key
    path = Path(settings.private_key_file).expanduser()
    try:
        return path.read_text()
    except OSError as exc:
        raise TouchpointError(
            f"cannot read [salesforce] private_key_file {path}: {exc.strerror}"
        ) from None
    except UnicodeDecodeError:
        raise TouchpointError(f"[salesforce] private_key_file {path} is not a PEM file") from None


def _ca_bundle(settings: SalesforceSettings) -> str:
    """The `ca_bundle` file, checked, for requests' `verify`."""
    path = Path(settings.ca_bundle).expanduser()
    if not path.is_file():
        raise TouchpointError(f"[salesforce] ca_bundle {path} is not a file")
    return str(path)


def _error_of(content: Any) -> tuple[str, str]:
    """(errorCode, message) of a Salesforce error body `[{"message": ..., "errorCode": ...}]`."""
    first = content[0] if isinstance(content, list) and content else content
    if isinstance(first, dict):
        return str(first.get("errorCode") or ""), str(first.get("message") or "no message")
    text = content.decode(errors="replace") if isinstance(content, bytes) else str(content)
    return "", (text.strip().splitlines() or ["no message"])[0][:200]


def _connection_problem(exc: BaseException) -> str:
    """The innermost reason of a requests connection error, without URLs or pool details."""
    reason: BaseException = exc
    seen = 0
    while seen < 8:
        seen += 1
        nested = getattr(reason, "reason", None)
        if isinstance(nested, BaseException):
            reason = nested
            continue
        inner = [arg for arg in reason.args if isinstance(arg, BaseException)]
        if inner:
            reason = inner[-1]
            continue
        break
    text = str(reason).strip()
    if ": " in text and text.startswith("<"):
        text = text.split(": ", 1)[1]  # urllib3 prefixes '<...Connection object at 0x...>: '
    if isinstance(reason, requests.Timeout) or "timed out" in text.lower():
        return "the request timed out"
    return (text.splitlines() or [type(reason).__name__])[0] or type(reason).__name__
