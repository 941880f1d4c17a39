"""The suppression list (DESIGN §16): salted hashes of erased visitor ids, emails and phones.

`touchpoint erase` adds the person's identifiers here, so that a later import,
sync or collected event of the same visitor id, email or phone is dropped
(counted, not kept, not a reject). The list lives in the store: `suppression
(hash, kind, added_at)` and the store's own random salt in `suppression_salt`,
generated once. A hash is SHA-256 of the salt and the normalised value: a
visitor id as is, an email lower-cased and trimmed, a phone in E.164 (`[phone]
default_region` for numbers written without +).

The salt keeps the list from being a plain rainbow table of emails, but it sits
beside the hashes: anyone holding the store file can test a guess, so the list
hides identifiers only from a casual reader, as DESIGN asks, not from a
determined one.

Every raw row lands through `Store.land`, which calls `drop_suppressed` on the
staged rows first: one SQL statement per table, nothing at all when the list
is empty.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from touchpoint.sources.phones import to_e164

TABLE = "suppression"
SALT_TABLE = "suppression_salt"
KINDS = ("visitor", "email", "phone")
# The reason imports and syncs count a dropped record under (as skipped, not rejected).
SUPPRESSED = "suppressed: an erased person (touchpoint erase)"
# The staged columns each raw table is checked on: (column, kind).
CHECKED: dict[str, tuple[tuple[str, str], ...]] = {
    "raw_events": (("visitor_id", "visitor"), ("email", "email")),
    "raw_calls": (
        ("visitor_id", "visitor"),
        ("caller_number", "phone"),
        ("caller_number_raw", "phone"),
    ),
    "raw_leads": (("email", "email"), ("phone", "phone")),
    "raw_contacts": (("email", "email"), ("phone", "phone")),
    "raw_number_assignments": (("visitor_id", "visitor"),),
}
_PHONE_LIKE = re.compile(r"^\+?[0-9][0-9 ().\-/]{5,}[0-9]$")
_EMAIL_LIKE = re.compile(r"^[^@\s]+@[^@\s]+$")


def normalise(kind: str, value: str, region: str) -> str | None:
    """The form a value is hashed in: visitor id as is, email lower-cased, phone E.164."""
    if kind == "visitor":
        return value or None
    if kind == "email":
        return value.strip().lower() or None
    return to_e164(value, region)


def digest(salt: str, normalised: str) -> str:
    """SHA-256 (hex) of the salt and a normalised value; DuckDB's `sha256(salt || v)`."""
    return hashlib.sha256((salt + normalised).encode()).hexdigest()


def ensure_tables(con: duckdb.DuckDBPyConnection) -> str:
    """The list's tables in place; the store's salt (made on first use) returned."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} "
        "(hash VARCHAR PRIMARY KEY, kind VARCHAR, added_at TIMESTAMP)"
    )
    con.execute(f"CREATE TABLE IF NOT EXISTS {SALT_TABLE} (salt VARCHAR)")
    row = con.execute(f"SELECT salt FROM {SALT_TABLE} LIMIT 1").fetchone()
    if row is not None:
        return str(row[0])
    salt = secrets.token_hex(16)
    con.execute(f"INSERT INTO {SALT_TABLE} VALUES (?)", [salt])
    return salt


def add_to_list(con: duckdb.DuckDBPyConnection, values: Iterable[tuple[str, str]]) -> int:
    """Add normalised `(kind, value)` pairs to the list; return how many were new."""
    salt = ensure_tables(con)
    added_at = datetime.now(UTC).replace(tzinfo=None)
    rows = {digest(salt, value): kind for kind, value in values}
    if not rows:
        return 0
    before = _count(con)
    table = pa.table({"hash": list(rows), "kind": list(rows.values())})
    con.register("suppressed_new", table)
    try:
        con.execute(
            f"INSERT INTO {TABLE} SELECT hash, kind, ? FROM suppressed_new "
            f"WHERE hash NOT IN (SELECT hash FROM {TABLE})",
            [added_at],
        )
    finally:
        con.unregister("suppressed_new")
    return _count(con) - before


def _count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
    return int(row[0]) if row else 0


def _has_list(con: duckdb.DuckDBPyConnection) -> bool:
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ?",
        [TABLE],
    ).fetchone()
    return bool(found and found[0]) and _count(con) > 0


@dataclass(frozen=True)
class Suppressed:
    """The list in memory, to check rows in Python (the intake log, rejects)."""

    salt: str
    hashes: frozenset[str]
    region: str

    def listed(self, value: str) -> bool:
        """Whether a value, read as a visitor id, an email or a phone, is on the list."""
        candidates = {value, value.strip().lower()}
        if _PHONE_LIKE.match(value.strip()):
            candidates.add(to_e164(value, self.region) or "")
        return any(c and digest(self.salt, c) in self.hashes for c in candidates)

    def matches(self, row: dict[str, Any]) -> bool:
        """Whether any value of a row (and of the JSON record it keeps) is on the list."""
        return any(self.listed(text) for text in _texts(row))


def _texts(value: object, depth: int = 0) -> Iterator[str]:
    """The strings of a row: its values, and those inside JSON text (the kept record)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _texts(item, depth)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item, depth)
    elif isinstance(value, str):
        yield value
        if depth < 2 and value[:1] in "{[":
            try:
                inner = json.loads(value)
            except ValueError:
                return
            yield from _texts(inner, depth + 1)


def load_list(con: duckdb.DuckDBPyConnection, region: str) -> Suppressed | None:
    """The list for checks in Python, or None when it is empty (the usual case)."""
    if not _has_list(con):
        return None
    salt = ensure_tables(con)
    hashes = frozenset(str(row[0]) for row in con.execute(f"SELECT hash FROM {TABLE}").fetchall())
    return Suppressed(salt, hashes, region)


def drop_suppressed(con: duckdb.DuckDBPyConnection, staged: str, table: str, region: str) -> int:
    """Delete the staged rows of listed people before they land; return how many."""
    if not _has_list(con):
        return 0
    salt = ensure_tables(con)
    before = _staged_count(con, staged)
    if table == "rejects":
        _drop_rejects(con, staged, load_list(con, region))
    elif table in CHECKED:
        _drop_by_columns(con, staged, table, salt, region)
    return before - _staged_count(con, staged)


def _staged_count(con: duckdb.DuckDBPyConnection, staged: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {staged}").fetchone()
    return int(row[0]) if row else 0


def _drop_by_columns(
    con: duckdb.DuckDBPyConnection, staged: str, table: str, salt: str, region: str
) -> None:
    """One DELETE: visitor ids and emails hashed in SQL, phones through a lookup of E.164."""
    checks = []
    phones = [column for column, kind in CHECKED[table] if kind == "phone"]
    for column, kind in CHECKED[table]:
        if kind == "visitor":
            checks.append(f'sha256($salt || "{column}") IN (SELECT hash FROM {TABLE})')
        elif kind == "email":
            checks.append(f'sha256($salt || lower(trim("{column}"))) IN (SELECT hash FROM {TABLE})')
    numbers = sorted(
        {
            str(row[0])
            for column in phones
            for row in con.execute(
                f'SELECT DISTINCT "{column}" FROM {staged} WHERE "{column}" IS NOT NULL'
            ).fetchall()
        }
    )
    listed = Suppressed(salt, frozenset(_all_hashes(con)), region)
    matched = [n for n in numbers if (e164 := to_e164(n, region)) and listed.listed(e164)]
    con.register("suppressed_numbers", pa.table({"number": pa.array(matched, pa.string())}))
    try:
        for column in phones:
            checks.append(f'"{column}" IN (SELECT number FROM suppressed_numbers)')
        con.execute(f"DELETE FROM {staged} WHERE {' OR '.join(checks)}", {"salt": salt})
    finally:
        con.unregister("suppressed_numbers")


def _all_hashes(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [str(row[0]) for row in con.execute(f"SELECT hash FROM {TABLE}").fetchall()]


def _drop_rejects(con: duckdb.DuckDBPyConnection, staged: str, listed: Suppressed | None) -> None:
    """Rejects are few: their records are read in Python, value by value."""
    if listed is None:
        return
    rows = con.execute(f"SELECT _seq, record FROM {staged}").fetchall()
    doomed = [int(seq) for seq, record in rows if record and _reject_listed(listed, record)]
    if doomed:
        con.execute(f"DELETE FROM {staged} WHERE _seq IN (SELECT unnest($seqs))", {"seqs": doomed})


_TOKEN = re.compile(r"[A-Za-z0-9_.%+@()/ -]+")


def _reject_listed(listed: Suppressed, record: str) -> bool:
    """A reject's record (JSON, a CSV line, anything) holds a listed value."""
    if listed.matches({"record": record}):
        return True
    # A CSV line or broken JSON: try each field-like piece of it.
    return any(
        listed.listed(piece.strip())
        for token in _TOKEN.findall(record)
        for piece in {token, *token.split(" ")}
        if piece.strip() and (_EMAIL_LIKE.match(piece.strip()) or len(piece.strip()) <= 64)
    )
