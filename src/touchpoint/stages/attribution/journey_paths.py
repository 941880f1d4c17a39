"""Journeys → channel paths for the data-driven models, converting and not.

For each conversion type, a converting path is one conversion's window (FT to
LC for leads, FT to Closed or the present for opportunities). The paths that
did not convert are the touchpoints of the people without such a conversion:
people with no lead conversion for the lead models, people linked to no
opportunity for the opportunity models.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from touchpoint.stages.journeys import LEAD, OPPORTUNITY

PATH_COLUMNS = ("conversion_type", "journey_id", "seq", "channel", "converted")
UNKNOWN_CHANNEL = "Unassigned"


def journey_paths(journeys: ir.Table, touchpoints: ir.Table) -> ir.Table:
    """`(conversion_type, journey_id, seq, channel, converted)` for every path step."""
    window = journeys.filter(journeys.in_full_window)
    converting = window.select(
        "conversion_type",
        journey_id=window.conversion_id,
        seq=window.seq.cast("int64"),  # Spark keeps row numbers as int32
        channel=window.channel.fill_null(UNKNOWN_CHANNEL),
        converted=ibis.literal(True),
    )
    by_date = ibis.window(group_by="person_id", order_by=["touchpoint_us", "touchpoint_id"])
    numbered = touchpoints.select(
        "person_id",
        seq=ibis.row_number().over(by_date).cast("int64"),
        channel=touchpoints.channel.fill_null(UNKNOWN_CHANNEL),
    )
    paths = converting
    for kind in (LEAD, OPPORTUNITY):
        converted = journeys.filter(journeys.conversion_type == kind).select("person_id").distinct()
        others = numbered.anti_join(converted, "person_id")
        paths = paths.union(
            others.select(
                conversion_type=ibis.literal(kind),
                journey_id=others.person_id,
                seq=others.seq,
                channel=others.channel,
                converted=ibis.literal(False),
            ),
            distinct=False,
        )
    return paths.select(*PATH_COLUMNS)
