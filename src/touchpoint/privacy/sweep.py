"""Deleting every row of the store that holds a person's identifiers (DESIGN §16).

Every table of the store is swept, not a list of them, so tables other parts
add later (`conversions_sent`, DESIGN §13) are covered too; only the
suppression list itself is left alone. A row goes when any of its text
columns holds one of the person's visitor ids, emails, phones (as written)
or CRM ids: equal to it, or, for identifiers of 8 characters or more,
containing it as a whole token (the JSON record a raw row keeps, a reject as
received, a checkpoint). Emails match in any case. Shorter identifiers (a
test's `v1`) match only a whole value, so they cannot hit inside someone
else's text. The person's call and click ids go only from
`conversions_sent` and from the calls' own id columns, where an id names a
call; elsewhere a short number could be anyone's.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from touchpoint.privacy.identities import Person
from touchpoint.privacy.suppression import SALT_TABLE, TABLE

LEFT_ALONE = (TABLE, SALT_TABLE)
# Where a call's or click's id names it (not a short number in someone's text).
ID_COLUMNS = {
    "raw_calls": ("call_id", "external_id"),
    "conversions_sent": ("conversion_id", "click_id"),
}
SHORTEST_TOKEN = 8
_METACHARACTERS = set("\\.^$|?*+()[]{}-/")


def re2_literal(text: str) -> str:
    """`text` as a literal in a DuckDB (RE2) regular expression."""
    return "".join("\\" + ch if ch in _METACHARACTERS else ch for ch in text)


def _token_pattern(tokens: Iterable[str], ignore_case: bool) -> str | None:
    """A whole-token match of any of `tokens` (not inside a longer id, email or number)."""
    shown = sorted({t for t in tokens if len(t) >= SHORTEST_TOKEN}, key=len, reverse=True)
    if not shown:
        return None
    flags = "(?i)" if ignore_case else ""
    alternatives = "|".join(re2_literal(t) for t in shown)
    return f"{flags}(^|[^A-Za-z0-9_+@.-])({alternatives})($|[^A-Za-z0-9_@-])"


def _crm_forms(ids: set[str]) -> set[str]:
    """Salesforce ids in both their 18- and 15-character forms."""
    return ids | {i[:15] for i in ids if len(i) == 18}


def store_tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Every table of the store's main schema, with its text columns."""
    rows = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'main' "
        "AND data_type = 'VARCHAR' ORDER BY table_name, column_index"
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        if table not in LEFT_ALONE:
            tables.setdefault(str(table), []).append(str(column))
    return tables


def _condition(table: str, columns: list[str], person: Person) -> tuple[str, dict[str, object]]:
    exact = person.visitors | person.phone_forms | _crm_forms(person.crm_ids)
    checks: list[str] = []
    params: dict[str, object] = {"exact": sorted(exact), "emails": sorted(person.emails)}
    patterns = {
        "tokens": _token_pattern(exact, ignore_case=False),
        "email_tokens": _token_pattern(person.emails, ignore_case=True),
    }
    for name, pattern in patterns.items():
        if pattern:
            params[name] = pattern
    for column in columns:
        quoted = f'"{column}"'
        checks.append(f"{quoted} IN (SELECT unnest($exact::VARCHAR[]))")
        checks.append(f"lower(trim({quoted})) IN (SELECT unnest($emails::VARCHAR[]))")
        for name in patterns:
            if name in params:
                checks.append(f"regexp_matches({quoted}, ${name})")
    ids = sorted(person.call_ids | person.click_ids)
    named = [c for c in ID_COLUMNS.get(table, ()) if c in columns]
    if ids and named:
        params["ids"] = ids
        checks += [f'"{c}" IN (SELECT unnest($ids::VARCHAR[]))' for c in named]
    return " OR ".join(checks), params


def sweep(con: duckdb.DuckDBPyConnection, person: Person, dry_run: bool) -> dict[str, int]:
    """Delete (or, dry, count) the person's rows in every table; rows per table touched."""
    removed: dict[str, int] = {}
    for table, columns in store_tables(con).items():
        condition, params = _condition(table, columns, person)
        found = con.execute(f'SELECT count(*) FROM "{table}" WHERE {condition}', params).fetchone()
        count = int(found[0]) if found else 0
        if count and not dry_run:
            con.execute(f'DELETE FROM "{table}" WHERE {condition}', params)
        if count:
            removed[table] = count
    return removed
