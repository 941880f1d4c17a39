"""`touchpoint explain call ID`: why a call merged or not, in plain words with the numbers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb

from touchpoint.config import Settings, parse_duration
from touchpoint.errors import TouchpointError
from touchpoint.report.records import CallExplanationRecord
from touchpoint.sources.salesforce.fields import salesforce_id_forms
from touchpoint.sources.vendors import VENDORS
from touchpoint.stages.merge import AMBIGUOUS, MERGED, NO_SESSION, NO_VISITOR_ID, OUTSIDE_WINDOW
from touchpoint.stages.numbers import FALLBACK, MATCHED, UNASSIGNED
from touchpoint.store import open_snapshot


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _clock(value: datetime) -> str:
    return value.strftime("%H:%M") if value.second == 0 else value.strftime("%H:%M:%S")


def _minutes(number: float) -> str:
    shown = f"{number:g}"
    return f"{shown} minute" + ("" if shown == "1" else "s")


def _row(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> dict[str, Any] | None:
    cursor = con.execute(sql, params)
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


def explain_call(settings: Settings, call_id: str) -> list[CallExplanationRecord]:
    """Every call with this id (or vendor id) in the latest build, explained."""
    with open_snapshot(settings) as con:
        calls = calls_with_id(con, call_id)
        if not calls:
            raise TouchpointError(f"no call {call_id!r} in the latest build")
        return explain_calls(con, calls)


def calls_with_id(con: duckdb.DuckDBPyConnection, call_id: str) -> list[dict[str, Any]]:
    """The `calls` rows whose id or vendor id is `call_id` (a Task's Id in either length)."""
    forms = salesforce_id_forms(call_id.strip())
    cursor = con.execute(
        "SELECT * FROM calls WHERE list_contains($ids, call_id) OR list_contains($ids, external_id) "
        "ORDER BY source_system",
        {"ids": forms},
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@dataclass(frozen=True)
class MergeRule:
    """The merge settings the build ran with (not today's settings file)."""

    window_us: int
    anchor: str
    visitor_id_fields: dict[str, str]  # by source system: where its records carry the id
    pool_holds_us: dict[str, int] = field(default_factory=dict)  # DESIGN §15, by pool name

    def visitor_id_field(self, source_system: str) -> str:
        return self.visitor_id_fields.get(source_system, "the record's visitor_id")


def merge_rule(con: duckdb.DuckDBPyConnection) -> MergeRule:
    """The window, anchor and visitor-id field of the build behind `con`."""
    build = _row(con, "SELECT settings FROM build_info", [])
    built = json.loads(build["settings"]) if build else {}
    merge_settings = built.get("merge", {})
    return MergeRule(
        window_us=_window_us(merge_settings.get("window", "30m")),
        anchor=merge_settings.get("anchor", "session_start"),
        visitor_id_fields=_visitor_id_fields(built),
        pool_holds_us=_pool_holds_us(built),
    )


def _pool_holds_us(built: dict[str, Any]) -> dict[str, int]:
    """Each pool's hold as the build ran: its `hold`, or the `[sessions] timeout`."""
    timeout = built.get("sessions", {}).get("timeout", "30m")
    pools = built.get("numbers", {}).get("pools", [])
    return {pool["name"]: _window_us(pool.get("hold") or timeout) for pool in pools}


def _visitor_id_fields(built: dict[str, Any]) -> dict[str, str]:
    recorded = built.get("vendors", {})
    return {
        "salesforce": built.get("salesforce", {}).get("visitor_id_field", "bizible2__BizibleId__c"),
        **{vendor.name: vendor.visitor_ids.explain(recorded) for vendor in VENDORS},
    }


def explain_calls(
    con: duckdb.DuckDBPyConnection, calls: list[dict[str, Any]], rule: MergeRule | None = None
) -> list[CallExplanationRecord]:
    """Explain many `calls` rows at once: three lookups in all, not three per call."""
    rule = rule or merge_rule(con)
    sessions = _rows_by(con, "sessions", "session_id", {c["session_id"] for c in calls})
    touchpoints = _rows_by(con, "touchpoints", "touchpoint_id", {c["touchpoint_id"] for c in calls})
    waiting = {c["visitor_id"] for c in calls if c["visitor_id"] and c["outcome"] == NO_SESSION}
    upcoming: dict[str, dict[str, Any]] = {}
    if waiting:
        cursor = con.execute(
            "SELECT visitor_id, min(started_at) AS started_at FROM sessions "
            "WHERE visitor_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY visitor_id",
            [sorted(waiting)],
        )
        upcoming = {visitor: {"started_at": started} for visitor, started in cursor.fetchall()}
    candidates = _candidates(con, calls)
    return [
        _explain(
            call,
            sessions.get(call["session_id"]),
            touchpoints.get(call["touchpoint_id"]),
            upcoming.get(call["visitor_id"]),
            rule,
            candidates.get((call["source_system"], call["call_id"]), []),
        )
        for call in calls
    ]


def _candidates(
    con: duckdb.DuckDBPyConnection, calls: list[dict[str, Any]]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The holds that made each pool call's candidates (`stages.numbers`), by call."""
    asked = [c["call_id"] for c in calls if c.get("number_match") in (MATCHED, AMBIGUOUS)]
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'number_candidates'"
    ).fetchone()
    if not asked or not found or not found[0]:
        return {}
    cursor = con.execute(
        "SELECT source_system, call_id, visitor_id, held_from, held_until FROM number_candidates "
        "WHERE call_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY held_from, visitor_id",
        [sorted(set(asked))],
    )
    by_call: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for system, call_id, visitor, held_from, held_until in cursor.fetchall():
        hold = {"visitor_id": visitor, "held_from": held_from, "held_until": held_until}
        by_call.setdefault((system, call_id), []).append(hold)
    return by_call


def _rows_by(
    con: duckdb.DuckDBPyConnection, table: str, key: str, values: set[Any]
) -> dict[str, dict[str, Any]]:
    """Rows of `table` whose `key` is one of `values`, by that key."""
    wanted = sorted(v for v in values if v)
    if not wanted:
        return {}
    cursor = con.execute(
        f"SELECT * FROM {table} WHERE {key} IN (SELECT unnest(?::VARCHAR[]))", [wanted]
    )
    names = [d[0] for d in cursor.description]
    rows = (dict(zip(names, row, strict=True)) for row in cursor.fetchall())
    return {row[key]: row for row in rows}


def _window_us(text: str) -> int:
    return int(parse_duration(text).total_seconds() * 1_000_000)


def _explain(
    call: dict[str, Any],
    session: dict[str, Any] | None,
    touchpoint: dict[str, Any] | None,
    upcoming: dict[str, Any] | None,
    rule: MergeRule,
    candidates: list[dict[str, Any]] | None = None,
) -> CallExplanationRecord:
    window_us, anchor = rule.window_us, rule.anchor
    field = rule.visitor_id_field(call["source_system"])
    seconds = call["seconds_from_session_start"]
    minutes = None if seconds is None else int(seconds // 60)
    gap_s = call.get("gap_s")
    anchor_minutes = None if gap_s is None else int(gap_s // 60)
    anchor_at = None
    if gap_s is not None:
        anchor_at = call["called_at"] - timedelta(seconds=gap_s)
    explanation = dict(
        call_id=call["call_id"],
        source_system=call["source_system"],
        outcome=call["outcome"],
        called_at=_when(call["called_at"]),
        visitor_id=call["visitor_id"],
        activity_type=call["activity_type"],
        session_id=call["session_id"],
        session_started_at=_when(session["started_at"]) if session else None,
        session_channel=session["channel"] if session else None,
        session_source=session["source"] if session else None,
        session_medium=session["medium"] if session else None,
        landing_page=session["landing_page"] if session else None,
        minutes_from_session_start=minutes,
        seconds_from_session_start=seconds,
        anchor=anchor,
        anchor_at=_when(anchor_at),
        minutes_from_anchor=anchor_minutes,
        window_minutes=window_us / 60_000_000,
        touchpoint_id=call["touchpoint_id"],
        touchpoint_type=touchpoint["touchpoint_type"] if touchpoint else None,
        touchpoint_channel=touchpoint["channel"] if touchpoint else None,
        touchpoint_medium=touchpoint["medium"] if touchpoint else None,
        touchpoint_conversion=touchpoint.get("conversion_kind") if touchpoint else None,
        attribution_basis=call["attribution_basis"],
        next_session_started_at=_when(upcoming["started_at"]) if upcoming else None,
        visitor_id_field=field,
    )
    own = touchpoint is not None and touchpoint.get("call_id") == call["call_id"]
    text = _sentences(call, session, explanation, anchor_at, own)
    pool = _pool_sentences(call, candidates or [], rule)
    if pool:
        first, _, rest = text.partition("\n")
        text = "\n".join(part for part in (first, pool, rest) if part)
    return CallExplanationRecord(**explanation, text=text)


def _pool_sentences(call: dict[str, Any], candidates: list[dict[str, Any]], rule: MergeRule) -> str:
    """How a call to a pool number found its visitor, or why it found none (DESIGN §15)."""
    match, pool, number = call.get("number_match"), call.get("number_pool"), call["tracking_number"]
    if match is None:
        return ""
    hold_us = rule.pool_holds_us.get(pool or "")
    hold = "the pool's hold" if hold_us is None else f"the pool's hold ({_minutes(hold_us / 60e6)})"
    held = "; ".join(
        f"{c['visitor_id']} (held {_when(c['held_from'])} until {_when(c['held_until'])})"
        for c in candidates
    )
    if match == FALLBACK:
        return (
            f"It rang {number}, the fallback number of pool {pool}: pool exhausted: the visitor "
            "saw the fallback number, which every visitor gets while all the pool's numbers are "
            "held, so it names no visitor."
        )
    if match == UNASSIGNED:
        return (
            f"It rang {number} of pool {pool}, but no visitor held that number at the call or "
            f"within {hold} before it, so it names no visitor."
        )
    if match == MATCHED:
        return (
            f"It rang {number} of pool {pool}; the one visitor who held that number at the call "
            f"or within {hold} before it was {held}, so the call takes that visitor's id."
        )
    return (
        f"It rang {number} of pool {pool}, which {call.get('match_candidates')} visitors held at "
        f"the call or within {hold} before it: {held}. Any of them may have called, so its "
        "outcome is ambiguous: no session gets the call and it makes no touchpoint. A pool with more "
        "numbers (touchpoint report shows the size it needs) keeps each number with one visitor "
        "for a whole hold."
    )


def _sentences(
    call: dict[str, Any],
    session: dict[str, Any] | None,
    e: dict[str, Any],
    anchor_at: datetime | None,
    own: bool = False,
) -> str:
    kind = f"type {e['activity_type']!r}" if e["activity_type"] else "blank activity type"
    record = _RECORD_NAMES.get(call.get("kind") or "call", "Call")
    lines = [f"{record} {e['call_id']} ({e['source_system']}, {kind}) came in at {e['called_at']}."]
    window = _minutes(e["window_minutes"])
    outcome = e["outcome"]
    counted = call.get("qualified") is not False
    if outcome == AMBIGUOUS:
        return "\n".join(lines)
    if outcome == NO_VISITOR_ID and call.get("number_match") and not e["touchpoint_id"]:
        lines.append("It is listed with outcome no_visitor_id and makes no touchpoint.")
        if not counted:
            lines.append(_not_counted(call))
        return "\n".join(lines)
    if outcome == NO_VISITOR_ID:
        if counted and e["touchpoint_id"]:
            lines.append(
                "It carries no visitor id, so it cannot be tied to any web session: its outcome "
                "is no_visitor_id. The call-tracking vendor recorded where the caller came from, "
                f"so it became a standalone touchpoint ({e['touchpoint_type']}) in channel "
                f"{e['touchpoint_channel']} with attribution_basis vendor ([merge] "
                "vendor_fallback)."
            )
        else:
            lines.append(
                "It carries no visitor id, so it cannot be tied to any web session: it is listed "
                "with outcome no_visitor_id and makes no touchpoint. Check that the call-tracking "
                f"script reads the visitor cookie and writes it into {e['visitor_id_field']}."
            )
        if not counted:
            lines.append(_not_counted(call))
        return "\n".join(lines)
    lines.append(f"Its visitor id is {e['visitor_id']}.")
    if outcome == NO_SESSION:
        if e["next_session_started_at"]:
            lines.append(
                "That visitor has no session that started at or before the call; their first "
                f"session started later, at {e['next_session_started_at']}."
            )
        else:
            lines.append("touchpoint has no web sessions at all for that visitor id.")
    elif session is not None:
        started = session["started_at"]
        lines.append(
            f"The visitor's latest session before the call started at {_clock(started)} "
            f"({e['session_started_at']}) from {session['channel']} "
            f"({session['source']} / {session['medium']}), landing on {session['landing_page']}."
        )
        gap = f"The call came {_minutes(e['minutes_from_session_start'])} after the session started"
        if e["anchor"] == "last_activity" and anchor_at is not None:
            gap += (
                f", {_minutes(e['minutes_from_anchor'])} after its last activity before the call "
                f"({_clock(anchor_at)}), which is what the window is measured from"
            )
        if outcome == MERGED:
            lines.append(f"{gap}; the window is {window}, so the call merged into that session.")
        else:
            lines.append(f"{gap}; the window is {window}, so it did not merge.")
    if not counted:
        lines.append(_not_counted(call))
    elif outcome == MERGED:
        lines.append(_merged_touchpoint(e, own, call.get("kind") or "call"))
    elif outcome in (NO_SESSION, OUTSIDE_WINDOW):
        if e["attribution_basis"] == "vendor":
            basis = "taken from the source the call-tracking vendor recorded"
        else:
            basis = "because the call record carries no source of its own"
        lines.append(
            f"It became a standalone call touchpoint ({e['touchpoint_type']}) in channel "
            f"{e['touchpoint_channel']}, {basis}."
        )
    return "\n".join(lines)


# What `[calls]` setting each reason comes from (stages.qualify), by the reason's start.
_REASON_SETTINGS = (
    ("outbound", "[calls] exclude_outbound"),
    ("spam", "[calls] exclude_spam"),
    ("too short", "[calls] min_duration"),
    ("not answered", "[calls] answered_only"),
    ("repeat caller", "[calls] first_time_only"),
    ("lead status", "[calls] lead_statuses"),
)
_RECORD_NAMES = {"call": "Call", "text": "Text message", "form": "Form"}


def _not_counted(call: dict[str, Any]) -> str:
    """`Not counted: too short: 12 s < 30 s ([calls] min_duration). ...`"""
    reason = call.get("disqualified_reason") or "unknown"
    setting = next((s for start, s in _REASON_SETTINGS if reason.startswith(start)), None)
    shown = f"{reason} ({setting})" if setting else reason
    return (
        f"Not counted: {shown}. It keeps its outcome ({call['outcome']}) but makes no "
        "touchpoint and no conversion."
    )


def _merged_touchpoint(e: dict[str, Any], own: bool, kind: str) -> str:
    text = f"The session's touchpoint ({e['touchpoint_type']}, {e['touchpoint_channel']}) carries the call."
    if own and kind in ("text", "form") and e["touchpoint_conversion"] == kind:
        text += " It is the session's earliest conversion and gives the touchpoint its type."
    elif e["touchpoint_conversion"] in ("form", "chat"):
        text += (
            f" An earlier {e['touchpoint_conversion'].replace('form', 'form submit')} in the session "
            f"gives the touchpoint its type ({e['touchpoint_type']})."
        )
    elif not e["activity_type"]:
        text += (
            " The call's activity type was blank, so the touchpoint stays a Web Visit and keeps "
            f"the session's medium ({e['touchpoint_medium']}); it is a touchpoint because of the call."
        )
    return text
