"""Positions and windows per conversion (DESIGN §4), on small hand-made tables."""

from __future__ import annotations

import ibis
import pyarrow as pa

from touchpoint.schema import RAW_CONTACT_ROLES, RAW_CONTACTS, RAW_LEADS, RAW_OPPORTUNITIES
from touchpoint.stages.journeys import journeys
from touchpoint.stages.touchpoints import with_positions

HOUR = 3_600_000_000
DEFAULTS = {
    "is_converted": False,
    "is_closed": False,
    "is_won": False,
    "is_primary": False,
    "is_deleted": False,
}


def touches(*rows: tuple[str, str, int, int | None, str]) -> ibis.Table:
    """(touchpoint_id, person_id, hour, conversion hour or None, channel) rows."""
    return ibis.memtable(
        {
            "touchpoint_id": [r[0] for r in rows],
            "person_id": [r[1] for r in rows],
            "touchpoint_us": [r[2] * HOUR for r in rows],
            "conversion_us": [None if r[3] is None else r[3] * HOUR for r in rows],
            "channel": [r[4] for r in rows],
        },
        schema=ibis.schema(
            {
                "touchpoint_id": "string",
                "person_id": "string",
                "touchpoint_us": "int64",
                "conversion_us": "int64",
                "channel": "string",
            }
        ),
    )


def records(schema: pa.Schema, *rows: dict) -> ibis.Table:
    """CRM records in their raw layout (unnamed columns null or false)."""
    data = {name: [row.get(name, DEFAULTS.get(name)) for row in rows] for name in schema.names}
    return ibis.memtable(pa.table(data, schema=schema))


PEOPLE = ibis.memtable(
    {
        "node_kind": ["crm", "crm", "crm"],
        "node_id": ["L1", "C1", "C2"],
        "person_id": ["p1", "p1", "p2"],
    },
    schema=ibis.schema({"node_kind": "string", "node_id": "string", "person_id": "string"}),
)


def positions_of(table: ibis.Table, conversion_id: str) -> dict[str, tuple[str, bool, bool, bool]]:
    rows = table.filter(table.conversion_id == conversion_id).to_pyarrow().to_pylist()
    return {
        r["touchpoint_id"]: (
            r["positions"],
            r["in_lc_window"],
            r["in_oc_window"],
            r["in_full_window"],
        )
        for r in rows
    }


def run(tp, leads=(), contacts=(), opportunities=(), roles=(), link="account"):
    return journeys(
        tp,
        PEOPLE,
        records(RAW_LEADS, *leads),
        records(RAW_CONTACTS, *contacts),
        records(RAW_OPPORTUNITIES, *opportunities),
        records(RAW_CONTACT_ROLES, *roles),
        link,
    )


def test_a_person_without_a_conversion_or_crm_record_has_no_lead_conversion():
    result = run(touches(("t1", "v9", 1, None, "search"), ("t2", "v9", 2, None, "email")))
    assert result.count().to_pyarrow().as_py() == 0


def test_lc_is_the_first_conversion_unless_the_lead_was_created_offline_before_it():
    tp = touches(
        ("t1", "p1", 1, None, "search"),
        ("t2", "p1", 5, None, "email"),
        ("t3", "p1", 9, 9, "social"),
    )
    online = run(tp, leads=[{"id": "L1", "created_us": 10 * HOUR}])
    assert positions_of(online, "L1") == {
        "t1": ("FT", True, False, True),
        "t2": ("", True, False, True),
        "t3": ("LC", True, False, True),
    }
    offline = run(tp, leads=[{"id": "L1", "created_us": 5 * HOUR}])  # at t2, inclusive
    assert positions_of(offline, "L1") == {
        "t1": ("FT", True, False, True),
        "t2": ("LC", True, False, True),
        "t3": ("PostLC", False, False, False),
    }


def test_opportunity_oc_and_closed_are_the_last_touches_at_or_before_creation_and_close():
    tp = touches(
        ("t1", "p1", 1, 1, "search"),
        ("t2", "p1", 5, None, "email"),
        ("t3", "p1", 9, 9, "social"),
        ("t4", "p1", 20, 20, "direct"),
    )
    opportunity = {
        "id": "O1",
        "account_id": "A1",
        "created_us": 5 * HOUR,
        "close_us": 9 * HOUR,
        "is_closed": True,
        "amount": 10.0,
    }
    contact = {"id": "C1", "account_id": "A1", "created_us": 1 * HOUR}
    closed = run(tp, contacts=[contact], opportunities=[opportunity])
    assert positions_of(closed, "O1") == {
        "t1": ("FT,LC", True, True, True),
        "t2": ("OC", False, True, True),
        "t3": ("PostLC,Closed", False, False, True),
        "t4": ("PostLC", False, False, False),  # after Closed: a position, in no window
    }
    still_open = run(tp, contacts=[contact], opportunities=[{**opportunity, "is_closed": False}])
    assert positions_of(still_open, "O1")["t4"] == ("PostLC", False, False, True)
    assert positions_of(still_open, "O1")["t3"] == ("PostLC", False, False, True)


def test_contacts_link_by_account_or_by_contact_role():
    tp = touches(("t1", "p1", 1, 1, "search"), ("t2", "p2", 2, 2, "email"))
    contacts = [
        {"id": "C1", "account_id": "A1", "created_us": 3 * HOUR},
        {"id": "C2", "account_id": "A1", "created_us": 3 * HOUR},
    ]
    opportunity = [{"id": "O1", "account_id": "A1", "created_us": 3 * HOUR, "close_us": 4 * HOUR}]
    roles = [
        {"id": "R1", "opportunity_id": "O1", "contact_id": "C1", "is_primary": False},
        {"id": "R2", "opportunity_id": "O1", "contact_id": "C2", "is_primary": True},
    ]
    by_account = run(tp, contacts=contacts, opportunities=opportunity)
    assert set(positions_of(by_account, "O1")) == {"t1", "t2"}
    by_role = run(
        tp, contacts=contacts, opportunities=opportunity, roles=roles, link="contact_role"
    )
    assert set(positions_of(by_role, "O1")) == {"t1", "t2"}
    primary = run(
        tp, contacts=contacts, opportunities=opportunity, roles=roles, link="primary_contact_role"
    )
    assert positions_of(primary, "O1") == {"t2": ("FT,LC,OC", True, True, True)}


def test_touchpoint_positions_are_the_union_in_a_fixed_order():
    tp = touches(
        ("t1", "p1", 1, None, "search"),
        ("t2", "p1", 5, 5, "email"),
        ("t3", "v7", 2, None, "direct"),
    )
    contact = {"id": "C1", "account_id": "A1", "created_us": 6 * HOUR}
    opportunity = {"id": "O1", "account_id": "A1", "created_us": 7 * HOUR, "close_us": 8 * HOUR}
    result = run(tp, contacts=[contact], opportunities=[{**opportunity, "is_closed": True}])
    union = with_positions(tp.mutate(**{c: ibis.null("string") for c in _OTHER}), result)
    got = {r["touchpoint_id"]: r["positions"] for r in union.to_pyarrow().to_pylist()}
    assert got == {"t1": "FT", "t2": "LC,OC,Closed", "t3": "FT"}


_OTHER = (
    "visitor_id",
    "touchpoint_date",
    "touchpoint_type",
    "medium",
    "source",
    "subchannel",
    "campaign",
    "landing_page",
    "referrer",
    "session_id",
    "call_id",
    "attribution_basis",
    "conversion_kind",
)
