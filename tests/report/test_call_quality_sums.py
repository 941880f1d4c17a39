"""Invariants of the call-quality breakdowns, on any calls: every split adds up to the calls,
every breakdown (folded or not) to the period's total, the reasons to the calls not qualified.

The tables are DuckDB tables in the layout of a build's `calls`, `touchpoints` and
`sessions` (the columns the breakdowns read); tests/report/test_call_quality.py checks the
figures themselves on a real build.
"""

from __future__ import annotations

import math

import duckdb
from hypothesis import given
from hypothesis import strategies as st

from touchpoint.report.call_quality import COUNTS, call_quality
from touchpoint.report.queries import Scope

KINDS = st.sampled_from([None, "call", "text", "form"])
STATUSES = st.sampled_from(
    [None, "answered", "missed", "voicemail", "abandoned", "busy", "failed", "ringing"]
)
FLAGS = st.sampled_from([None, True, False])
CALLS = st.lists(
    st.tuples(
        KINDS,
        STATUSES,
        FLAGS,
        FLAGS,
        st.sampled_from([None, "spam", "outbound", "too short: 12 s < 30 s", "too short: 3 s"]),
        st.one_of(st.none(), st.floats(0, 10_000, allow_nan=False)),
        st.sampled_from([None, "t1", "t2", "t3", "t4"]),  # the touchpoint
        st.sampled_from([None, "s1", "s2"]),  # the session, when merged
    ),
    max_size=40,
)


def store(calls: list[tuple[object, ...]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        """
        CREATE TABLE touchpoints AS SELECT * FROM (VALUES
            ('t1', 'Paid Search', 'spring'), ('t2', 'Email', NULL), ('t3', 'Email', 'news'),
            ('t4', 'Direct', '')) AS t(touchpoint_id, channel, campaign);
        CREATE TABLE sessions AS SELECT * FROM (VALUES
            ('s1', 'Paid Search', 'spring'), ('s2', 'Referral', NULL)) AS s(session_id, channel, campaign);
        CREATE TABLE calls (called_at TIMESTAMP, outcome VARCHAR, session_id VARCHAR,
            touchpoint_id VARCHAR, kind VARCHAR, status VARCHAR, first_time_caller BOOLEAN,
            qualified BOOLEAN, disqualified_reason VARCHAR, value DOUBLE);
        """
    )
    for kind, status, first, qualified, reason, value, touchpoint, session in calls:
        con.execute(
            "INSERT INTO calls VALUES (TIMESTAMP '2026-03-02 10:00', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ["merged" if session else "no_session", session, touchpoint, kind, status, first,
             qualified, reason, value],
        )  # fmt: skip
    return con


@given(CALLS, st.integers(1, 4))
def test_every_split_and_every_breakdown_adds_up(calls, limit):
    found = call_quality(store(calls), Scope("UTC", "USD"), limit=limit)
    total = found.total
    assert total.calls + total.texts + total.forms == len(calls)
    for row in [total, *(r for b in found.breakdowns for r in b.rows)]:
        assert row.answered + row.not_answered + row.status_unknown == row.calls
        assert row.first_time + row.repeat + row.caller_unknown == row.calls
        assert row.qualified + row.not_qualified + row.qualified_unknown == row.calls
        assert row.valued_calls <= row.calls
        assert (row.call_value is None) == (row.valued_calls == 0)
    for breakdown in found.breakdowns:
        assert len(breakdown.rows) <= limit + 1
        for name in COUNTS:
            assert sum(getattr(r, name) for r in breakdown.rows) == getattr(total, name)
        values = [r.call_value for r in breakdown.rows if r.call_value is not None]
        assert math.isclose(sum(values), total.call_value or 0, abs_tol=1e-6)
    assert sum(r.calls for r in found.disqualified_reasons) == total.not_qualified
    assert len(found.disqualified_reasons) <= 10
    # Reasons are grouped by rule: `too short: 12 s < 30 s` and `too short: 3 s` are one.
    reasons = [r.reason for r in found.disqualified_reasons]
    assert len(set(reasons)) == len(reasons)
    assert not any(":" in r for r in reasons)
