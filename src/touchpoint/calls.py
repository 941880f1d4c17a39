"""Raw call records → the current version of each call.

Every version of a call is kept raw. The one with the latest modification time
wins, whatever order the records arrived in; when that version is a deletion,
the call is gone.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir


def current_calls(raw_calls: ir.Table) -> ir.Table:
    """One row per (source_system, call_id): its latest version, deletions dropped."""
    latest_first = ibis.window(
        group_by=["source_system", "call_id"],
        order_by=[
            raw_calls.version_us.desc(),
            raw_calls.is_deleted.desc(),  # a deletion and an edit at one instant: deleted
            raw_calls.record_hash.desc(),
        ],
    )
    ranked = raw_calls.mutate(version_rank=ibis.row_number().over(latest_first))
    current = ranked.filter((ranked.version_rank == 0) & ~ranked.is_deleted.fill_null(False))
    return current.drop("version_rank", "record", "record_hash", "origin", "received_at")
