"""Pool numbers (DESIGN §15): who held each tracking number, and which visitor a call rang for.

`POST /numbers` writes one `raw_number_assignments` row per hold it gives or renews
(`[now, now + hold]`). Three stages turn them into a visitor id for the calls that
rang a pool number:

1. `number_holds`: one row per unbroken hold of a number by a visitor, the
   overlapping or touching rows of one (pool, number, visitor, fallback) merged.
2. `number_candidates`: for each call to a pool number that carries no visitor id
   from its source, every hold of that number that intersects `[t - hold, t]`
   (t the call time, `hold` the pool's): the visitors who may have seen it. A
   number is freed only `hold` after its last request, and a caller may dial a
   little after leaving the page, so the window reaches back one `hold`.
3. `matched_calls`: every call, with `number_pool`, `number_match` and
   `match_candidates`. Exactly one candidate: the call takes that visitor's id
   (`matched`) and goes on as if its source had named the visitor: sessions,
   merge, touchpoints and identity read it like any vendor's id. More than one:
   `ambiguous`, and no visitor id (the merge stage gives it outcome `ambiguous`,
   no session and no touchpoint). None: `unassigned`. A call to a pool's
   `fallback` number: `fallback` (the pool was exhausted; no visitor id).

A call whose source already names a visitor keeps that id: it keeps its
`number_pool` (it rang a pool number) but its `number_match` and
`match_candidates` are NULL, as for a call to no pool number: the source, not the
number, told who called. Holds are matched by number, whatever pool name the
assignment was written under, so renaming a pool does not orphan its history.
The pools come from the settings as data (`pools_table`), so the stages run as
SQL on every backend.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from touchpoint.schema import CALL_NUMBER_COLUMNS
from touchpoint.stages.params import BuildParams

MATCHED = "matched"
AMBIGUOUS = "ambiguous"
FALLBACK = "fallback"
UNASSIGNED = "unassigned"
NUMBER_MATCHES = (MATCHED, AMBIGUOUS, FALLBACK, UNASSIGNED)

# The pools as the stages read them: one row per tracking number and per fallback.
POOLS = pa.schema(
    [
        ("pool", pa.string()),
        ("number", pa.string()),
        ("is_fallback", pa.bool_()),
        ("hold_us", pa.int64()),
    ]
)
HOLD_COLUMNS = ("pool", "number", "visitor_id", "held_from", "held_until", "fallback")
CANDIDATE_COLUMNS = (
    "source_system",
    "call_id",
    "pool",
    "number",
    "visitor_id",
    "held_from",
    "held_until",
)
_CALL_KEY = ("source_system", "call_id")
_HOLD_KEY = ("pool", "number", "visitor_id", "fallback")


def pools_table(params: BuildParams) -> ir.Table:
    """The build's pools as a table: `pool, number, is_fallback, hold_us`."""
    rows = [
        {"pool": pool, "number": number, "is_fallback": fallback, "hold_us": hold_us}
        for pool, number, fallback, hold_us in params.number_pools
    ]
    return ibis.memtable(pa.Table.from_pylist(rows, schema=POOLS))


def number_holds(assignments: ir.Table, _params: BuildParams) -> ir.Table:
    """One row per unbroken hold: overlapping or touching rows of one holder merged.

    Gaps and islands: in time order, a row starts a new hold when it starts after
    every earlier row of its key has ended.
    """
    rows = assignments.filter(
        assignments.number.notnull()
        & assignments.visitor_id.notnull()
        & assignments.assigned_us.notnull()
        & assignments.held_until_us.notnull()
    )
    rows = rows.select(
        "pool",
        "number",
        "visitor_id",
        "assigned_at",
        "held_until",
        fallback=rows.fallback.fill_null(False),
        from_us=rows.assigned_us,
        until_us=ibis.greatest(rows.held_until_us, rows.assigned_us),
    )
    in_time = ibis.window(group_by=list(_HOLD_KEY), order_by=[rows.from_us, rows.until_us])
    so_far = ibis.cumulative_window(
        group_by=list(_HOLD_KEY), order_by=[rows.from_us, rows.until_us]
    )
    rows = rows.mutate(reach_us=rows.until_us.max().over(so_far))
    rows = rows.mutate(earlier_reach_us=rows.reach_us.lag().over(in_time))
    starts = (rows.earlier_reach_us.isnull() | (rows.from_us > rows.earlier_reach_us)).cast("int64")
    rows = rows.mutate(starts=starts)
    rows = rows.mutate(hold_index=rows.starts.sum().over(so_far))
    holds = rows.group_by([*_HOLD_KEY, "hold_index"]).aggregate(
        held_from=rows.assigned_at.min(),
        held_until=rows.held_until.max(),
        held_from_us=rows.from_us.min(),
        held_until_us=rows.until_us.max(),
    )
    return holds.select(*HOLD_COLUMNS, "held_from_us", "held_until_us")


def _pool_numbers(pools: ir.Table) -> ir.Table:
    return pools.filter(~pools.is_fallback).select(
        pool_number=pools.number, number_pool=pools.pool, hold_us=pools.hold_us
    )


def number_candidates(
    calls: ir.Table, holds: ir.Table, pools: ir.Table, _params: BuildParams
) -> ir.Table:
    """Each call to a pool number without a visitor id × each hold of it in `[t - hold, t]`."""
    asking = calls.filter(calls.visitor_id.isnull() & calls.tracking_number.notnull())
    numbers = _pool_numbers(pools)
    asking = asking.join(numbers, asking.tracking_number == numbers.pool_number).select(
        *_CALL_KEY, "called_us", "pool_number", "number_pool", "hold_us"
    )
    held = holds.filter(~holds.fallback).select(
        held_number=holds.number,
        visitor_id=holds.visitor_id,
        held_from=holds.held_from,
        held_until=holds.held_until,
        held_from_us=holds.held_from_us,
        held_until_us=holds.held_until_us,
    )
    pairs = asking.join(
        held,
        (asking.pool_number == held.held_number)
        & (held.held_from_us <= asking.called_us)
        & (held.held_until_us >= asking.called_us - asking.hold_us),
    )
    return pairs.select(
        *_CALL_KEY,
        pool=pairs.number_pool,
        number=pairs.pool_number,
        visitor_id=pairs.visitor_id,
        held_from=pairs.held_from,
        held_until=pairs.held_until,
        held_from_us=pairs.held_from_us,
        held_until_us=pairs.held_until_us,
    )


def matched_calls(
    calls: ir.Table, candidates: ir.Table, pools: ir.Table, _params: BuildParams
) -> ir.Table:
    """Every call with its pool, how its number matched, and its visitor id when one held it."""
    found = candidates.group_by(
        candidate_system=candidates.source_system, candidate_call=candidates.call_id
    ).aggregate(
        found=candidates.visitor_id.nunique().cast("int64"),
        holder=candidates.visitor_id.max(),
    )
    dialled = pools.select(
        dialled_number=pools.number, number_pool=pools.pool, dialled_fallback=pools.is_fallback
    )
    joined = calls.left_join(dialled, calls.tracking_number == dialled.dialled_number)
    joined = joined.left_join(
        found,
        (joined.source_system == found.candidate_system) & (joined.call_id == found.candidate_call),
    )
    ours = joined.number_pool.notnull() & joined.visitor_id.isnull()
    count = ibis.ifelse(joined.dialled_fallback, 0, joined.found.fill_null(0))
    match = ibis.cases(
        (~ours, ibis.null("string")),
        (joined.dialled_fallback, FALLBACK),
        (count == 1, MATCHED),
        (count > 1, AMBIGUOUS),
        else_=UNASSIGNED,
    )
    with_match = joined.mutate(
        number_match=match,
        match_candidates=ibis.ifelse(ours, count, ibis.null("int64")).cast("int64"),
    )
    visitor = ibis.ifelse(
        with_match.number_match == MATCHED, with_match.holder, with_match.visitor_id
    )
    return with_match.select(
        *(
            visitor.name(name) if name == "visitor_id" else with_match[name]
            for name in calls.columns
        ),
        *CALL_NUMBER_COLUMNS,
    )
