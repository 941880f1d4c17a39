"""The build's phone-number lookup: each number as written → E.164 for a region.

`[phone] default_region` says how a national number ("(415) 555-0134", "020
7946 0018") becomes E.164, and a changed region applies at the next build to
everything already imported (DESIGN §11). Parsing needs Python (`phonenumbers`),
so the build makes the lookup before the stages run, and the stages join it
(`stages.phones`).

The store keeps it in `phone_numbers (raw, region, e164)`: a number is parsed
once per region, and a build that brings no new number parses nothing. Distinct
numbers are few beside calls (a tracking number takes thousands of calls). A
checkpoint remembers which raw rows the lookup was made from, so a build after
which no raw row came or went does not read the numbers out of the records again.
"""

from __future__ import annotations

import time

import ibis.expr.types as ir
import pyarrow as pa

from touchpoint.build.backends import DuckDBBackend
from touchpoint.sources.phones import to_e164
from touchpoint.stages.params import BuildParams
from touchpoint.stages.phones import raw_numbers
from touchpoint.stages.pipeline import StageInfo
from touchpoint.store import Store

TABLE = "phone_numbers"
STORED = pa.schema([("raw", pa.string()), ("region", pa.string()), ("e164", pa.string())])
_READ = ("raw_calls", "raw_leads", "raw_contacts")  # the raw tables numbers come from
_VERSION = "1"  # of `stages.phones.raw_numbers`: a change reads every record again


def region_of(default_region: str) -> str:
    """The region as `phones.to_e164` reads it (upper case)."""
    return default_region.strip().upper()


def refresh_phone_numbers(
    store: Store, backend: DuckDBBackend, params: BuildParams, default_region: str
) -> StageInfo:
    """Add to the store's lookup every number the raw tables hold that it lacks for this region.

    Reported like a stage: rows in are the numbers new to this region, rows out the
    lookup rows added (the same; both 0 on a build with nothing new).
    """
    started = time.perf_counter()
    region = region_of(default_region)
    store.con.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} "
        "(raw VARCHAR, region VARCHAR, e164 VARCHAR, PRIMARY KEY (raw, region))"
    )
    fields = (params.caller_number_field, params.tracking_number_field)
    checkpoint = ":".join((TABLE, _VERSION, region, *fields))
    if store.get_checkpoint(checkpoint) == _fingerprint(store, region):
        return StageInfo(TABLE, 0, 0, time.perf_counter() - started)  # no row came or went
    # The stages' own expressions, so the lookup holds exactly what they will look up.
    numbers = raw_numbers(
        backend.raw("raw_calls"), backend.raw("raw_leads"), backend.raw("raw_contacts"), params
    )
    known = backend.raw(TABLE)
    known = known.filter(known.region == region)
    new = numbers.anti_join(known, numbers.raw == known.raw)
    written = backend.ibis.to_pyarrow(new).column("raw").to_pylist()
    if written:
        rows = pa.table(
            {
                "raw": written,
                "region": [region] * len(written),
                "e164": [to_e164(number, region) for number in written],
            },
            schema=STORED,
        )
        with store.registered(rows) as view:
            store.con.execute(f"INSERT INTO {TABLE} SELECT raw, region, e164 FROM {view}")
    store.set_checkpoint(checkpoint, _fingerprint(store, region))
    return StageInfo(TABLE, len(written), len(written), time.perf_counter() - started)


def _fingerprint(store: Store, region: str) -> str:
    """The rows the lookup was made from: per raw table read, how many and an order-free
    hash of their keys; and how many numbers the lookup holds for the region.

    Far cheaper than reading the numbers out of every record again, so a build with
    nothing new skips that.
    """
    parts = [
        f"(SELECT count(*) || '/' || coalesce(bit_xor(hash(record_hash)), 0) FROM {table})"
        for table in _READ
    ]
    parts.append(f"(SELECT count(*) || '' FROM {TABLE} WHERE region = ?)")
    row = store.con.execute(f"SELECT concat_ws(' ', {', '.join(parts)})", [region]).fetchone()
    return str(row[0]) if row else ""


def lookup_sql(default_region: str) -> str:
    """The lookup the stages read, `(raw, e164)` for this region, as DuckDB SQL on the store."""
    region = region_of(default_region).replace("'", "''")
    return f"SELECT raw, e164 FROM {TABLE} WHERE region = '{region}'"


def current_lookup(backend: DuckDBBackend, default_region: str) -> ir.Table:
    """The lookup for this region, as the DuckDB stages read it."""
    table = backend.raw(TABLE)
    return table.filter(table.region == region_of(default_region)).select("raw", "e164")
