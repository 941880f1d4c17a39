"""`touchpoint push google-ads`: conversions through the Data Manager API, exactly once.

`POST {base_url}/v1/events:ingest` with a bearer token (the access token, or one
Google's token endpoint gives for the refresh token), at most `batch_size`
(2,000) events a request: `destinations` (the account as `operatingAccount`,
a manager as `loginAccount`, each kind's conversion action as
`productDestinationId`, referenced by the kind), and per conversion and click
an event with `destinationReferences`, `transactionId` (the conversion's
stable id), `eventTimestamp` (RFC 3339, UTC), `eventSource` (`PHONE` for a
call, else `OTHER`), `adIdentifiers` (`gclid`, `gbraid` or `wbraid`) and,
with an amount, `conversionValue` and `currency`.

Google answers `{"requestId": ...}` when it took the request. A 400 whose
`google.rpc.BadRequest` details name events (`events[3]...`) refuses those
events for good (the ledger keeps the reason) and the others are sent again
at once; a 400 naming no event, 401 or 403 stops the push with one line and
records nothing; 429, 5xx and dropped connections leave the batch to a later
push (`conversions_ledger`).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import requests

from touchpoint.config import Settings
from touchpoint.destinations.conversions import GOOGLE_CLICK_IDS, load_conversions
from touchpoint.destinations.conversions_ledger import (
    REJECTED,
    RETRY,
    SENT,
    Outcome,
    record,
    settled,
)
from touchpoint.destinations.destination import ObjectPush, Progress, PushResult, no_progress
from touchpoint.destinations.google_ads_file import NAME, Upload, uploads
from touchpoint.errors import TouchpointError
from touchpoint.store import Store, open_snapshot

TIMEOUT = 60
EXAMPLES = 5
_EVENT_FIELD = re.compile(r"^events\[(\d+)\]")


class Stop(Exception):
    """Google refused the request as a whole: one line, nothing recorded."""


def push_google_ads(
    settings: Settings,
    *,
    dry_run: bool = False,
    progress: Progress = no_progress,
    since: datetime | None = None,
) -> PushResult:
    started = time.monotonic()
    ads = settings.destinations.google_ads
    result = PushResult(destination=NAME, target=ads.base_url, dry_run=dry_run)
    now = datetime.now(UTC)
    with open_snapshot(settings):
        pass  # nothing built: say so before the store is made
    with Store.open(settings) as store:
        conversions = load_conversions(settings, GOOGLE_CLICK_IDS, since, store=store.con)
        done = settled(store.con, NAME, now)
        every = list(uploads(settings, conversions))
        todo = [u for u in every if (u.conversion.conversion_id, u.click.click_id) not in done]
        pushed = ObjectPush(
            name="conversions", records=len(every), unchanged=len(every) - len(todo)
        )
        pushed.to_upsert = len(todo)
        result.objects.append(pushed)
        unnamed = sorted(
            {k for k in ("call", "lead", "opportunity", "won") if not ads.actions.get(k)}
        )
        if unnamed:
            result.notes.append(f"not sent (no action named): {', '.join(unnamed)}")
        if dry_run:
            pushed.examples = [event_of(u) for u in todo[:EXAMPLES]]
            result.seconds = time.monotonic() - started
            return result
        if todo:
            _check_ready(settings, todo)
            token = access_token(settings)
            for start in range(0, len(todo), ads.batch_size):
                batch = todo[start : start + ads.batch_size]
                outcomes, stopped = _send(settings, token, batch)
                record(store.con, NAME, outcomes, now, settings.destinations.retry_backoff)
                for o in outcomes:
                    if o.status == SENT:
                        pushed.upserted += 1
                        pushed.created += 1
                    elif o.status == REJECTED:
                        pushed.rejected += 1
                        if len(result.rejects) < EXAMPLES:
                            result.rejects.append((o.conversion_id, o.error or ""))
                progress("conversions", start + len(batch), len(todo))
                if stopped:
                    waiting = len(todo) - pushed.upserted - pushed.rejected
                    result.stopped = f"{stopped}; {waiting:,} conversions wait for the next push"
                    break
    result.seconds = time.monotonic() - started
    return result


def _check_ready(settings: Settings, todo: list[Upload]) -> None:
    ads = settings.destinations.google_ads
    if not re.fullmatch(r"\d{10}", ads.customer_id.replace("-", "")):
        raise TouchpointError(
            "set [destinations.google-ads] customer_id to the Google Ads account's 10 digits"
        )
    for kind in sorted({u.conversion.kind for u in todo}):
        if not ads.action_ids.get(kind):
            raise TouchpointError(
                f"set [destinations.google-ads] action_ids.{kind}: the id of the conversion "
                f"action {ads.actions[kind]!r} (Google Ads: Goals > Conversions, its ctId)"
            )


def access_token(settings: Settings) -> str:
    """The access token set, or one Google's token endpoint gives for the refresh token."""
    ads = settings.destinations.google_ads
    if ads.access_token:
        return ads.access_token
    if not (ads.refresh_token and ads.client_id and ads.client_secret):
        raise TouchpointError(
            "Google Ads needs credentials: set [destinations.google-ads] refresh_token, "
            "client_id and client_secret (or access_token), e.g. "
            "TOUCHPOINT_DESTINATIONS__GOOGLE_ADS__REFRESH_TOKEN"
        )
    try:
        answer = requests.post(
            ads.token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": ads.refresh_token,
                "client_id": ads.client_id,
                "client_secret": ads.client_secret,
            },
            timeout=TIMEOUT,
        )
    except requests.RequestException as exc:
        raise TouchpointError(f"cannot reach Google's sign-in at {ads.token_url}: {exc}") from None
    body = _body(answer)
    token = body.get("access_token")
    if answer.status_code != 200 or not isinstance(token, str):
        said = body.get("error_description") or body.get("error") or f"HTTP {answer.status_code}"
        raise TouchpointError(f"Google's sign-in refused the Google Ads credentials: {said}")
    return token


def event_of(upload: Upload) -> dict[str, Any]:
    conversion, click = upload.conversion, upload.click
    event: dict[str, Any] = {
        "destinationReferences": [conversion.kind],
        "transactionId": upload.transaction_id,
        "eventTimestamp": conversion.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "eventSource": "PHONE" if conversion.kind == "call" else "OTHER",
        "adIdentifiers": {click.param: click.click_id},
    }
    if upload.value is not None:
        event["conversionValue"] = upload.value
    return event


def request_body(settings: Settings, batch: list[Upload]) -> dict[str, Any]:
    ads = settings.destinations.google_ads
    account = {"accountType": "GOOGLE_ADS", "accountId": ads.customer_id.replace("-", "")}
    destinations = []
    for kind in sorted({u.conversion.kind for u in batch}):
        destination: dict[str, Any] = {
            "reference": kind,
            "operatingAccount": account,
            "productDestinationId": ads.action_ids[kind],
        }
        if ads.login_customer_id:
            login = ads.login_customer_id.replace("-", "")
            destination["loginAccount"] = {"accountType": "GOOGLE_ADS", "accountId": login}
        destinations.append(destination)
    events = [event_of(u) for u in batch]
    for event in events:
        if "conversionValue" in event:
            event["currency"] = settings.site.currency
    return {"destinations": destinations, "events": events}


def _send(settings: Settings, token: str, batch: list[Upload]) -> tuple[list[Outcome], str | None]:
    """Send one batch; what became of each event, and why the push stops (or None)."""
    outcomes: list[Outcome] = []
    while batch:
        answer, said = _post(settings, token, request_body(settings, batch))
        if answer is None or answer.status_code == 429 or answer.status_code >= 500:
            reason = said if answer is None else f"HTTP {answer.status_code}: {said}"
            outcomes += [_outcome(u, RETRY, reason) for u in batch]
            return outcomes, f"Google Ads did not take the conversions ({reason})"
        if answer.status_code == 200:
            return outcomes + [_outcome(u, SENT) for u in batch], None
        if answer.status_code in (401, 403):
            raise TouchpointError(f"Google Ads refused the credentials: {said}")
        refused = _refused_events(_body(answer))
        if answer.status_code != 400 or not refused or not set(refused) <= set(range(len(batch))):
            raise TouchpointError(
                f"Google Ads refused the request (HTTP {answer.status_code}): {said}"
            )
        outcomes += [_outcome(batch[i], REJECTED, why) for i, why in sorted(refused.items())]
        batch = [u for i, u in enumerate(batch) if i not in refused]
    return outcomes, None


def _post(
    settings: Settings, token: str, body: dict[str, Any]
) -> tuple[requests.Response | None, str]:
    ads = settings.destinations.google_ads
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        answer = requests.post(
            ads.base_url.rstrip("/") + "/v1/events:ingest",
            json=body,
            headers=headers,
            timeout=TIMEOUT,
        )
    except requests.RequestException as exc:
        return None, f"no answer: {type(exc).__name__}"
    error = _body(answer).get("error")
    message = error.get("message") if isinstance(error, dict) else None
    return answer, str(message or answer.reason or "")


def _refused_events(body: dict[str, Any]) -> dict[int, str]:
    """Event index -> reason, from the error's `google.rpc.BadRequest` field violations."""
    error = body.get("error")
    details = error.get("details", []) if isinstance(error, dict) else []
    refused: dict[int, str] = {}
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict) or not str(detail.get("@type", "")).endswith("BadRequest"):
            continue
        for violation in detail.get("fieldViolations", []) or []:
            found = _EVENT_FIELD.match(str(violation.get("field", "")))
            if found:
                why = str(violation.get("description") or violation.get("reason") or "refused")
                refused.setdefault(int(found.group(1)), why)
    return refused


def _outcome(upload: Upload, status: str, error: str | None = None) -> Outcome:
    return Outcome(upload.conversion.conversion_id, upload.click.click_id, status, error)


def _body(answer: requests.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
