"""Raw CRM records → the current version of each record (leads, contacts, ...).

Every imported version is kept raw. Per `id`, the version with the latest
`LastModifiedDate` (or `SystemModstamp`) wins; records without one are ordered
by when they arrived. A current version that is a deletion removes the record.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

_BOOKKEEPING = ("version_rank", "record", "record_hash", "origin", "received_at", "is_deleted")


def current_records(raw: ir.Table) -> ir.Table:
    """One row per `id`: its latest version, deletions dropped."""
    latest_first = ibis.window(
        group_by="id",
        order_by=[
            raw.version_us.desc(nulls_first=False),
            raw.received_at.desc(),
            raw.is_deleted.desc(),  # a deletion and an edit at one instant: deleted
            raw.record_hash.desc(),
        ],
    )
    ranked = raw.mutate(version_rank=ibis.row_number().over(latest_first))
    current = ranked.filter((ranked.version_rank == 0) & ~ranked.is_deleted.fill_null(False))
    return current.drop(*_BOOKKEEPING, "version_us")
