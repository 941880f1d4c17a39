"""Channel credits (Markov removal effects, Shapley values) → each conversion's weights.

DESIGN §4: within one conversion a touchpoint's weight is its channel's
credit, normalised over the channels present there, and a channel's share is
split equally among its touchpoints in the window. When no channel of the
conversion has any credit, every touchpoint gets an equal share.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from touchpoint.stages.attribution.journey_paths import UNKNOWN_CHANNEL
from touchpoint.stages.attribution.rows import CONVERSION, model_rows, per_conversion


def credits_table(credits: dict[str, dict[str, float]]) -> ir.Table:
    """Credits by conversion type and channel as a table to join against."""
    rows = [(kind, channel, value) for kind, by in credits.items() for channel, value in by.items()]
    return ibis.memtable(
        {
            "conversion_type": [r[0] for r in rows],
            "channel": [r[1] for r in rows],
            "credit": [float(r[2]) for r in rows],
        },
        schema=ibis.schema({"conversion_type": "string", "channel": "string", "credit": "float64"}),
    )


def credit_weights(journeys: ir.Table, credits: ir.Table, model: str) -> ir.Table:
    """Rows of a data-driven model from its channel credits.

    >>> from touchpoint.stages.attribution.examples import journey, weights
    >>> j = journey("FT", "", "LC", channels=["search", "email", "search"])
    >>> credit = credits_table({"lead": {"search": 0.6, "email": 0.2}})
    >>> weights(credit_weights(j, credit, "markov"), j)  # search 3/4, split over two touches
    [0.375, 0.25, 0.375]
    """
    rows = journeys.filter(journeys.in_full_window)
    rows = rows.mutate(credit_channel=rows.channel.fill_null(UNKNOWN_CHANNEL))
    known = credits.select(
        credit_type=credits.conversion_type, credit_channel=credits.channel, credit=credits.credit
    )
    rows = rows.left_join(
        known,
        (rows.conversion_type == known.credit_type) & (rows.credit_channel == known.credit_channel),
    )
    rows = rows.drop("credit_type", "credit_channel_right")
    same_channel = ibis.window(group_by=[*CONVERSION, "credit_channel"])
    rows = rows.mutate(
        touch_credit=rows.credit.fill_null(0.0).clip(lower=0.0)
        / rows.count().over(same_channel).cast("float64")
    )
    rows = rows.mutate(
        total=rows.touch_credit.sum().over(per_conversion()),
        touches=rows.count().over(per_conversion()),
    )
    weight = ibis.ifelse(
        rows.total > 0, rows.touch_credit / rows.total, 1.0 / rows.touches.cast("float64")
    )
    return model_rows(rows, model, weight)
