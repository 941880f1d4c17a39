"""Models that look at every touchpoint of the window alike (DESIGN §4): linear, time
decay and last touch, over FT to LC for leads and FT to Closed (or to the present
for open opportunities) for opportunities.
"""

from __future__ import annotations

import math

import ibis
import ibis.expr.types as ir

from touchpoint.stages.attribution.rows import model_rows, per_conversion


def _window(journeys: ir.Table) -> ir.Table:
    return journeys.filter(journeys.in_full_window)


def linear(journeys: ir.Table) -> ir.Table:
    """Linear: an equal share for each touchpoint of the window.

    >>> from touchpoint.stages.attribution.examples import journey, weights
    >>> j = journey("FT", "", "", "LC")
    >>> weights(linear(j), j)
    [0.25, 0.25, 0.25, 0.25]
    """
    rows = _window(journeys)
    return model_rows(rows, "linear", 1.0 / rows.count().over(per_conversion()))


def time_decay(journeys: ir.Table, half_life_us: int) -> ir.Table:
    """Time decay: a touchpoint's weight halves per half-life before the conversion.

    Weights are relative, so the conversion's own time cancels out; they are
    taken from the window's last touchpoint to keep the numbers in range.

    >>> from touchpoint.stages.attribution.examples import DAY_US, journey, weights
    >>> j = journey("FT", "", "LC", days=[0, 7, 14])  # ages 14, 7 and 0 days
    >>> weights(time_decay(j, half_life_us=7 * DAY_US), j)  # 1 : 2 : 4
    [0.1429, 0.2857, 0.5714]
    """
    rows = _window(journeys)
    latest = rows.touchpoint_us.max().over(per_conversion())
    age_in_half_lives = (latest - rows.touchpoint_us).cast("float64") / half_life_us
    rows = rows.mutate(decayed=(age_in_half_lives * -math.log(2)).exp())
    return model_rows(rows, "time_decay", rows.decayed / rows.decayed.sum().over(per_conversion()))


def last_touch(journeys: ir.Table) -> ir.Table:
    """Last touch: all to the window's last touchpoint.

    >>> from touchpoint.stages.attribution.examples import journey, weights
    >>> j = journey("FT", "LC", "", "OC", "", is_closed=False)  # open: to the present
    >>> weights(last_touch(j), j)
    [0.0, 0.0, 0.0, 0.0, 1.0]
    """
    rows = _window(journeys)
    last = rows.seq.max().over(per_conversion())
    return model_rows(rows, "last_touch", ibis.ifelse(rows.seq == last, 1.0, 0.0))
