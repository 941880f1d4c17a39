"""Journeys → the `attribution` table: every model's rows, weights and revenue."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from touchpoint.schema import ATTRIBUTION_COLUMNS
from touchpoint.stages.attribution import position_based, touch_based
from touchpoint.stages.attribution.data_driven import credit_weights

# What the attribution table keeps after its contract columns: whether the
# conversion (an opportunity) is closed and won, for the reports.
ATTRIBUTION_EXTRA_COLUMNS = ("is_closed", "is_won")


def attribution(
    journeys: ir.Table,
    markov: ir.Table,
    shapley: ir.Table,
    half_life_us: int,
    custom: position_based.PositionModel,
) -> ir.Table:
    """Every model's rows; revenue = weight × amount for opportunities (NULL for leads)."""
    parts = [
        position_based.first_touch(journeys),
        position_based.lead_creation(journeys),
        position_based.u_shaped(journeys),
        position_based.w_shaped(journeys),
        position_based.full_path(journeys),
        position_based.custom(journeys, custom),
        touch_based.linear(journeys),
        touch_based.time_decay(journeys, half_life_us),
        touch_based.last_touch(journeys),
        credit_weights(journeys, markov, "markov"),
        credit_weights(journeys, shapley, "shapley"),
    ]
    rows = parts[0]
    for part in parts[1:]:
        rows = rows.union(part, distinct=False)
    revenue = ibis.ifelse(
        rows.conversion_type == "opportunity", rows.weight * rows.amount, ibis.null("float64")
    )
    return rows.mutate(revenue=revenue).select(*ATTRIBUTION_COLUMNS, *ATTRIBUTION_EXTRA_COLUMNS)
