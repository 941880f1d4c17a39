"""The layout every model writes: one row per (conversion, touchpoint) it gives credit to."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

MODEL_COLUMNS = (
    "conversion_id",
    "conversion_type",
    "touchpoint_id",
    "model",
    "weight",
    "channel",
    "positions",
    "amount",
    "is_closed",
    "is_won",
)

# Every model, in the order DESIGN §4 names them.
MODELS = (
    "first_touch",
    "lead_creation",
    "u_shaped",
    "w_shaped",
    "full_path",
    "custom",
    "linear",
    "time_decay",
    "last_touch",
    "markov",
    "shapley",
)
# Lead conversions get these; opportunities get every model.
LEAD_MODELS = (
    "first_touch",
    "lead_creation",
    "u_shaped",
    "linear",
    "time_decay",
    "last_touch",
    "markov",
    "shapley",
)

CONVERSION = ("conversion_type", "conversion_id")


def per_conversion() -> ibis.expr.builders.LegacyWindowBuilder:
    """The window of one conversion's rows."""
    return ibis.window(group_by=list(CONVERSION))


def for_model(rows: ir.Table, model: str) -> ir.Table:
    """Only the conversions this model applies to (leads get fewer models)."""
    if model in LEAD_MODELS:
        return rows
    return rows.filter(rows.conversion_type != "lead")


def model_rows(rows: ir.Table, model: str, weight: ir.FloatingValue) -> ir.Table:
    """`rows` in the model layout with this weight; rows the model gives nothing are dropped."""
    weighted = rows.mutate(model=ibis.literal(model), weight=weight.cast("float64"))
    return weighted.filter(weighted.weight > 0).select(*MODEL_COLUMNS)
