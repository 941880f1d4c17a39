"""The conversions of the latest build, and the ad clicks that earn each (DESIGN §13).

A conversion is each qualified call (at its time), each lead conversion (at the
lead's or contact's creation in the CRM, else at the person's first
conversion), each opportunity's creation and each won opportunity (at its
close, with its amount). Its `conversion_id` is stable: the kind and our id
(`call:CA12...`, `lead:00Q...`, `opportunity:006...`, `won:006...`).

Which clicks earn it, for a platform's click-id parameters (Google: gclid,
gbraid, wbraid): the touchpoints of its journey (a call: of the caller) at or
before it and within `[destinations] lookback`. Under `last_touch` the latest
of them with such a click id earns it whole (credit 1); under a multi-touch
model each of them earns its weight of that model in the `attribution` table
(a call, and a lead under an opportunity-only model, have no such rows: they
fall back to `last_touch`, and say so in `model`).

Consent: the collector keeps nothing of a browser that sends Do Not Track or
Global Privacy Control, nor of one whose page withholds consent
(`data-require-consent`): such a visitor is never in the store. An imported
event may say more in its `properties`: `consent` false / "denied" or
`gpc` true marks its visitor as one who denied it, and every conversion of a
person with such a visitor is left out (`denied_visitors`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb

from touchpoint.config import Settings
from touchpoint.config.destinations import LAST_TOUCH
from touchpoint.errors import TouchpointError
from touchpoint.sources.urls import url_facts
from touchpoint.store import open_snapshot, open_store_readonly

GOOGLE_CLICK_IDS = ("gclid", "gbraid", "wbraid")
KINDS = ("call", "lead", "opportunity", "won")


@dataclass(frozen=True)
class Click:
    """An ad click that earns (a share of) a conversion."""

    click_id: str
    param: str  # gclid, gbraid, wbraid, msclkid, ...
    clicked_at: datetime
    touchpoint_id: str
    credit: float  # 0-1


@dataclass(frozen=True)
class Conversion:
    conversion_id: str  # kind:our id
    kind: str
    source_id: str  # the call's, lead's or opportunity's own id
    occurred_at: datetime  # UTC, aware
    value: float | None
    person_id: str | None
    model: str  # the model that credited the clicks
    clicks: tuple[Click, ...] = field(default=())


# Every touchpoint with the click id of its session (or, for a call's own touchpoint, the
# click id its vendor recorded), by person.
_TOUCH_CLICKS = """
SELECT t.touchpoint_id, t.person_id, t.visitor_id, t.touchpoint_us,
       s.click_id AS session_click, s.landing_page,
       c.vendor_click_id, c.vendor_click_id_param
FROM touchpoints t
LEFT JOIN sessions s ON s.session_id = t.session_id
LEFT JOIN calls c ON c.call_id = t.call_id
WHERE s.click_id IS NOT NULL OR c.vendor_click_id IS NOT NULL
"""
_CALLS = """
SELECT c.call_id, c.called_us, coalesce(p.person_id, t.person_id) AS person_id, c.touchpoint_id
FROM calls c
LEFT JOIN people p ON p.node_kind = 'visitor' AND p.node_id = c.visitor_id
LEFT JOIN touchpoints t ON t.touchpoint_id = c.touchpoint_id
WHERE c.qualified AND NOT coalesce(c.is_deleted, false)
"""
_LEADS = """
WITH lead_ids AS (SELECT DISTINCT conversion_id, person_id FROM journeys
                  WHERE conversion_type = 'lead'),
first_conversion AS (
    SELECT j.conversion_id, min(t.conversion_us) AS conversion_us
    FROM journeys j JOIN touchpoints t USING (touchpoint_id)
    WHERE j.conversion_type = 'lead' GROUP BY ALL
)
SELECT l.conversion_id, coalesce(leads.created_us, contacts.created_us, f.conversion_us),
       l.person_id
FROM lead_ids l
LEFT JOIN leads ON leads.id = l.conversion_id
LEFT JOIN contacts ON contacts.id = l.conversion_id
LEFT JOIN first_conversion f USING (conversion_id)
"""
_OPPORTUNITIES = """
SELECT id, created_us, is_won, close_us, amount FROM opportunities
WHERE id IN (SELECT conversion_id FROM journeys WHERE conversion_type = 'opportunity')
"""
_JOURNEY_TOUCHES = """
SELECT DISTINCT conversion_type, conversion_id, touchpoint_id FROM journeys
"""
_CREDITS = """
SELECT conversion_type, conversion_id, touchpoint_id, sum(weight) FROM attribution
WHERE model = ? GROUP BY ALL
"""
_DENIED = """
SELECT DISTINCT visitor_id FROM raw_events
WHERE properties IS NOT NULL AND (
    lower(coalesce(json_extract_string(properties, '$.consent'), '')) IN ('false', 'denied', '0', 'no')
    OR lower(coalesce(json_extract_string(properties, '$.gpc'), '')) IN ('true', '1')
)
"""


def _utc(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def denied_visitors(store: duckdb.DuckDBPyConnection | None) -> set[str]:
    """Visitors whose imported events say they denied consent (or sent GPC)."""
    if store is None:
        return set()
    return {str(row[0]) for row in store.execute(_DENIED).fetchall()}


@dataclass(frozen=True)
class _Touch:
    touchpoint_id: str
    person_id: str | None
    visitor_id: str | None
    us: int
    click_id: str
    param: str


def _touches(con: duckdb.DuckDBPyConnection) -> dict[str, _Touch]:
    touches: dict[str, _Touch] = {}
    for tid, person, visitor, us, session_click, landing, vendor_click, vendor_param in con.execute(
        _TOUCH_CLICKS
    ).fetchall():
        if session_click is not None:
            param = url_facts(landing).click_id_param if landing else None
            click = str(session_click)
        else:
            param, click = vendor_param, str(vendor_click)
        if param:
            touches[str(tid)] = _Touch(str(tid), person, visitor, int(us), click, str(param))
    return touches


def check_model(model: str) -> None:
    from touchpoint.stages.attribution.rows import MODELS  # imports Ibis: not at CLI start-up

    if model not in MODELS:
        raise TouchpointError(
            f"setting [destinations] model: unknown model {model!r}; use one of {', '.join(MODELS)}"
        )


def find_conversions(
    con: duckdb.DuckDBPyConnection,
    params: Iterable[str],
    *,
    model: str = LAST_TOUCH,
    lookback: timedelta = timedelta(days=90),
    denied: set[str] | None = None,
    now: datetime | None = None,
) -> list[Conversion]:
    """Every conversion of the snapshot `con` with the clicks of `params` that earn it,
    oldest first; those no click earns are included with no clicks."""
    check_model(model)
    wanted = set(params)
    now_us = int(((now or datetime.now(UTC)) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())
    now_us *= 1_000_000
    denied_people = _denied_people(con, denied or set())
    touches = {
        t: touch
        for t, touch in _touches(con).items()
        if touch.param in wanted
        and touch.person_id not in denied_people
        and touch.visitor_id not in denied_people
    }
    by_person: dict[str, list[_Touch]] = {}
    for touch in touches.values():
        if touch.person_id is not None:
            by_person.setdefault(touch.person_id, []).append(touch)
    journey: dict[tuple[str, str], list[str]] = {}
    for ctype, cid, tid in con.execute(_JOURNEY_TOUCHES).fetchall():
        journey.setdefault((str(ctype), str(cid)), []).append(str(tid))
    credits: dict[tuple[str, str], dict[str, float]] = {}
    if model != LAST_TOUCH:
        for ctype, cid, tid, weight in con.execute(_CREDITS, [model]).fetchall():
            credits.setdefault((str(ctype), str(cid)), {})[str(tid)] = float(weight or 0.0)
    lookback_us = int(lookback.total_seconds() * 1_000_000)

    def credited(
        candidates: list[_Touch], at_us: int, key: tuple[str, str] | None
    ) -> tuple[str, tuple[Click, ...]]:
        eligible = [t for t in candidates if at_us - lookback_us <= t.us <= at_us]
        shares = credits.get(key) if key is not None else None
        if shares:
            clicks = tuple(
                Click(t.click_id, t.param, _utc(t.us), t.touchpoint_id, shares[t.touchpoint_id])
                for t in sorted(eligible, key=lambda t: (t.us, t.touchpoint_id))
                if shares.get(t.touchpoint_id, 0.0) > 0.0
            )
            return model, clicks
        if not eligible:
            return LAST_TOUCH, ()
        last = max(eligible, key=lambda t: (t.us, t.touchpoint_id))
        return LAST_TOUCH, (
            Click(last.click_id, last.param, _utc(last.us), last.touchpoint_id, 1.0),
        )

    def journey_touches(ctype: str, cid: str) -> list[_Touch]:
        return [touches[t] for t in journey.get((ctype, cid), ()) if t in touches]

    found: list[Conversion] = []

    def add(
        kind: str, source_id: str, at_us: int | None, value: float | None, person: str | None,
        candidates: list[_Touch], key: tuple[str, str] | None,
    ) -> None:  # fmt: skip
        if at_us is None or at_us > now_us or (person is not None and person in denied_people):
            return
        used, clicks = credited(candidates, at_us, key)
        found.append(
            Conversion(
                f"{kind}:{source_id}", kind, source_id, _utc(at_us), value, person, used, clicks
            )
        )

    for call_id, called_us, person, own_touch in con.execute(_CALLS).fetchall():
        candidates = list(by_person.get(person, [])) if person is not None else []
        if not candidates and own_touch in touches:
            candidates = [touches[own_touch]]
        add("call", str(call_id), called_us, None, person, candidates, None)
    for lead_id, created_us, person in con.execute(_LEADS).fetchall():
        key = ("lead", str(lead_id))
        add("lead", str(lead_id), created_us, None, person, journey_touches(*key), key)
    for opp_id, created_us, is_won, close_us, amount in con.execute(_OPPORTUNITIES).fetchall():
        key = ("opportunity", str(opp_id))
        candidates = journey_touches(*key)
        add("opportunity", str(opp_id), created_us, None, None, candidates, key)
        if is_won:
            value = None if amount is None else float(amount)
            add("won", str(opp_id), close_us, value, None, candidates, key)
    return sorted(found, key=lambda c: (c.occurred_at, c.conversion_id))


def _denied_people(con: duckdb.DuckDBPyConnection, denied: set[str]) -> set[str]:
    if not denied:
        return set()
    rows = con.execute(
        "SELECT DISTINCT person_id FROM people WHERE node_kind = 'visitor' "
        "AND node_id IN (SELECT unnest($denied::VARCHAR[]))",
        {"denied": sorted(denied)},
    ).fetchall()
    return {str(row[0]) for row in rows} | denied


def load_conversions(
    settings: Settings,
    params: Iterable[str],
    since: datetime | None = None,
    store: duckdb.DuckDBPyConnection | None = None,
) -> list[Conversion]:
    """The latest build's conversions for a platform's click ids, by `[destinations]`, at or
    after `since`; `store` (else the store read-only) says who denied consent."""
    chosen = settings.destinations
    if store is not None:
        denied = denied_visitors(store)
    else:
        with open_store_readonly(settings) as readonly:
            denied = denied_visitors(readonly)
    with open_snapshot(settings) as con:
        found = find_conversions(
            con, params, model=chosen.model, lookback=chosen.lookback, denied=denied
        )
    return [c for c in found if since is None or c.occurred_at >= since]
