"""What a person types to name a call or a person, read the way the build keeps it (DESIGN §11).

A Salesforce Id works in its 15- and its 18-character form; a person is also
found by the Id of one of their leads, contacts or opportunities, or by an
email on a lead, a contact or an `identify` event.
"""

from __future__ import annotations

import duckdb

from touchpoint.report.queries import has_columns
from touchpoint.sources.salesforce.fields import salesforce_id_forms
from touchpoint.stages.identity import CRM_PERSON_PREFIX


def person_id_of(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    """The `person_id` that `key` names in the latest build, or None.

    `key` is a person id, a lead / contact / opportunity Id (15 or 18 characters)
    or an email. When it names several people (an opportunity's contacts), the one
    with the most touchpoints is shown.
    """
    key = key.strip()
    if con.execute("SELECT 1 FROM touchpoints WHERE person_id = ? LIMIT 1", [key]).fetchone():
        return key
    record_ids = salesforce_id_forms(key.removeprefix(CRM_PERSON_PREFIX))
    email = key.lower() if "@" in key else None
    branches = [
        # A CRM record joined to a person, or known only to the CRM.
        "SELECT person_id FROM people WHERE node_kind = 'crm' AND node_id IN (SELECT * FROM ids)",
        f"SELECT '{CRM_PERSON_PREFIX}' || id FROM ids",
    ]
    if has_columns(con, "journeys", "conversion_id", "person_id"):
        branches.append("SELECT person_id FROM journeys WHERE conversion_id IN (SELECT * FROM ids)")
    if email is not None:
        for table in ("leads", "contacts"):
            if has_columns(con, table, "id", "email"):
                branches.append(
                    f"SELECT coalesce(p.person_id, '{CRM_PERSON_PREFIX}' || r.id) FROM {table} r "
                    "LEFT JOIN people p ON p.node_kind = 'crm' AND p.node_id = r.id "
                    "WHERE r.email = $email"
                )
        if has_columns(con, "events", "visitor_id", "email"):
            branches.append(
                "SELECT coalesce(p.person_id, e.visitor_id) FROM events e "
                "LEFT JOIN people p ON p.node_kind = 'visitor' AND p.node_id = e.visitor_id "
                "WHERE lower(e.email) = $email"
            )
    found = con.execute(
        f"""
        WITH ids(id) AS (SELECT unnest($ids::VARCHAR[])),
        wanted(person_id) AS ({" UNION ".join(branches)})
        SELECT t.person_id FROM touchpoints AS t
        WHERE t.person_id IN (SELECT person_id FROM wanted)
        GROUP BY t.person_id ORDER BY count(*) DESC, t.person_id LIMIT 1
        """,
        {"ids": record_ids, **({"email": email} if email is not None else {})},
    ).fetchone()
    return None if found is None else str(found[0])
