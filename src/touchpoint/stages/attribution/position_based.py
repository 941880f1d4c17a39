"""Position-based models (DESIGN §4): first touch, lead creation, U-shaped, W-shaped,
full path and custom, as Ibis expressions over journeys.

Each model gives fixed shares to positions and splits a middle share equally
among the window's touchpoints that hold none of its positions. A touchpoint
holding several positions gets their sum. When a position is missing from the
window, or there is no middle touch, those shares go to the positions present
in proportion to their shares. A model none of whose positions is present
gives nothing, unless it has a middle share (then the middle gets it all).
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from touchpoint.stages.attribution.rows import for_model, model_rows, per_conversion


@dataclass(frozen=True)
class PositionModel:
    name: str
    shares: tuple[tuple[str, float], ...]  # (journeys flag column, percent)
    middle: float  # percent
    window: str  # the journeys column saying which touchpoints count


FIRST_TOUCH = PositionModel("first_touch", (("is_ft", 100.0),), 0.0, "in_full_window")
LEAD_CREATION = PositionModel("lead_creation", (("is_lc", 100.0),), 0.0, "in_full_window")
U_SHAPED = PositionModel("u_shaped", (("is_ft", 40.0), ("is_lc", 40.0)), 20.0, "in_lc_window")
W_SHAPED = PositionModel(
    "w_shaped", (("is_ft", 30.0), ("is_lc", 30.0), ("is_oc", 30.0)), 10.0, "in_oc_window"
)
FULL_PATH = PositionModel(
    "full_path",
    (("is_ft", 22.5), ("is_lc", 22.5), ("is_oc", 22.5), ("is_closed_touch", 22.5)),
    10.0,
    "in_full_window",
)


def custom_model(ft: float, lc: float, oc: float, closed: float, middle: float) -> PositionModel:
    """The custom model from `[attribution.custom]` shares (percent), over FT to Closed."""
    shares = (("is_ft", ft), ("is_lc", lc), ("is_oc", oc), ("is_closed_touch", closed))
    return PositionModel("custom", shares, middle, "in_full_window")


def position_weights(journeys: ir.Table, model: PositionModel) -> ir.Table:
    """Rows of one position-based model.

    >>> from touchpoint.stages.attribution.examples import journey, weights
    >>> j = journey("FT", "", "", "LC")
    >>> weights(position_weights(j, U_SHAPED), j)
    [0.4, 0.1, 0.1, 0.4]
    >>> j = journey("FT,LC")  # one touchpoint holding both positions
    >>> weights(position_weights(j, U_SHAPED), j)
    [1.0]
    >>> j = journey("FT", "LC")  # no middle touch: its 20 go to FT and LC, 40:40
    >>> weights(position_weights(j, U_SHAPED), j)
    [0.5, 0.5]
    """
    rows = for_model(journeys, model.name)
    rows = rows.filter(rows[model.window])
    share = ibis.literal(0.0)
    for flag, percent in model.shares:
        if percent > 0:
            share = share + ibis.ifelse(rows[flag], percent, 0.0)
    rows = rows.mutate(position_share=share)
    holds = rows.position_share > 0
    rows = rows.mutate(
        present=rows.position_share.sum().over(per_conversion()),
        middle_count=(~holds).cast("int64").sum().over(per_conversion()),
    )
    holds = rows.position_share > 0
    middle_total = ibis.ifelse(rows.middle_count > 0, model.middle / 100, 0.0)
    weight = ibis.cases(
        ((rows.present > 0) & holds, rows.position_share / rows.present * (1 - middle_total)),
        (rows.present > 0, middle_total / rows.middle_count),
        (ibis.literal(model.middle > 0), 1.0 / rows.middle_count),
        else_=0.0,
    )
    return model_rows(rows, model.name, weight)


def first_touch(journeys: ir.Table) -> ir.Table:
    """First touch: FT 100.

    >>> from touchpoint.stages.attribution.examples import journey, weights
    >>> j = journey("FT", "", "LC")
    >>> weights(first_touch(j), j)
    [1.0, 0.0, 0.0]
    """
    return position_weights(journeys, FIRST_TOUCH)


def lead_creation(journeys: ir.Table) -> ir.Table:
    """Lead creation: LC 100.

    >>> from touchpoint.stages.attribution.examples import journey, weights
    >>> j = journey("FT", "", "LC")
    >>> weights(lead_creation(j), j)
    [0.0, 0.0, 1.0]
    """
    return position_weights(journeys, LEAD_CREATION)


def u_shaped(journeys: ir.Table) -> ir.Table:
    """U-shaped, FT to LC: FT 40, LC 40, middle 20.

    >>> from touchpoint.stages.attribution.examples import journey, weights
    >>> j = journey("FT", "", "LC", "OC", "Closed")  # on an opportunity too, only FT to LC
    >>> weights(u_shaped(j), j)
    [0.4, 0.2, 0.4, 0.0, 0.0]
    """
    return position_weights(journeys, U_SHAPED)


def w_shaped(journeys: ir.Table) -> ir.Table:
    """W-shaped, FT to OC (opportunities only): FT, LC, OC 30 each, middle 10.

    >>> from touchpoint.stages.attribution.examples import journey, weights
    >>> j = journey("FT", "LC", "", "OC", "", "Closed")  # touches after OC do not count
    >>> weights(w_shaped(j), j)
    [0.3, 0.3, 0.1, 0.3, 0.0, 0.0]
    """
    return position_weights(journeys, W_SHAPED)


def full_path(journeys: ir.Table) -> ir.Table:
    """Full path, FT to Closed (opportunities only): FT, LC, OC, Closed 22.5 each, middle 10.

    >>> from touchpoint.stages.attribution.examples import journey, weights
    >>> j = journey("FT", "LC", "", "OC", "", "Closed")
    >>> weights(full_path(j), j)
    [0.225, 0.225, 0.05, 0.225, 0.05, 0.225]
    >>> j = journey("FT", "LC", "OC", "", is_closed=False)  # open: Closed's 22.5 to FT, LC, OC
    >>> weights(full_path(j), j)
    [0.3, 0.3, 0.3, 0.1]
    """
    return position_weights(journeys, FULL_PATH)


def custom(journeys: ir.Table, model: PositionModel) -> ir.Table:
    """The custom model, shares from `[attribution.custom]` (opportunities only).

    >>> from touchpoint.stages.attribution.examples import journey, weights
    >>> j = journey("FT", "LC", "", "OC", "Closed")
    >>> weights(custom(j, custom_model(ft=10, lc=40, oc=0, closed=40, middle=10)), j)
    [0.1, 0.4, 0.05, 0.05, 0.4]
    """
    return position_weights(journeys, model)
