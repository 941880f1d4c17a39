"""Every model's weights of one conversion sum to 1, for every journey shape (DESIGN §4)."""

from __future__ import annotations

import math

import ibis
from hypothesis import given
from hypothesis import strategies as st

from touchpoint.stages.attribution import LEAD_MODELS, MODELS, attribution
from touchpoint.stages.attribution.data_driven import credits_table
from touchpoint.stages.attribution.examples import DAY_US, journey
from touchpoint.stages.attribution.position_based import custom_model

CHANNELS = ("search", "email", "social", "direct")


@st.composite
def journeys(draw):
    """One conversion: a lead or an opportunity, its touches, positions (any may be missing)."""
    count = draw(st.integers(1, 7))
    opportunity = draw(st.booleans())
    maybe_index = st.one_of(st.none(), st.integers(0, count - 1))
    held = [set() for _ in range(count)]
    held[0].add("FT")
    lc = draw(maybe_index)
    if lc is not None:
        held[lc].add("LC")
    for i in range(count):
        if i != lc and draw(st.booleans()):
            held[i].add("PostLC")
    is_closed = None
    if opportunity:
        oc = draw(maybe_index)
        is_closed = draw(st.booleans())
        if oc is not None:
            held[oc].add("OC")
        if is_closed:
            closed = draw(st.integers(oc or 0, count - 1))
            held[closed].add("Closed")
        else:
            held[-1].add("PostLC")  # any touch marks the shape an opportunity's (OC may be missing)
    days = sorted(draw(st.lists(st.floats(0, 60), min_size=count, max_size=count)))
    channels = draw(st.lists(st.sampled_from(CHANNELS), min_size=count, max_size=count))
    positions = [",".join(sorted(names)) for names in held]
    return positions, channels, days, opportunity, is_closed


def build(shape, conversion_id: str) -> ibis.Table:
    positions, channels, days, opportunity, is_closed = shape
    table = journey(
        *positions,
        channels=channels,
        days=days,
        conversion_id=conversion_id,
        is_closed=is_closed,
        amount=1000.0,
    )
    if opportunity:  # journey() reads the kind from OC/Closed; a shape may have neither
        table = table.mutate(
            conversion_type=ibis.literal("opportunity"),
            in_full_window=ibis.literal(True) if not is_closed else table.in_full_window,
            amount=ibis.literal(1000.0),
            is_closed=ibis.literal(bool(is_closed)),
            is_won=ibis.literal(bool(is_closed)),
        )
    return table


credit = st.dictionaries(st.sampled_from(CHANNELS), st.sampled_from([0.0, 0.001, 0.3, 1.0]))
shares = st.lists(st.integers(0, 10), min_size=5, max_size=5).filter(any)


@given(st.lists(journeys(), min_size=1, max_size=4), credit, credit, shares)
def test_every_models_weights_sum_to_one_per_conversion(shapes, markov, shapley, parts):
    tables = [build(shape, f"c{i}") for i, shape in enumerate(shapes)]
    rows = tables[0]
    for table in tables[1:]:
        rows = rows.union(table, distinct=False)
    custom = custom_model(*(100 * part / sum(parts) for part in parts))
    result = attribution(
        rows,
        credits_table({"lead": markov, "opportunity": markov}),
        credits_table({"lead": shapley, "opportunity": shapley}),
        7 * DAY_US,
        custom,
    ).to_pyarrow()
    sums: dict[tuple[str, str], float] = {}
    for row in result.to_pylist():
        assert row["weight"] > 0 and math.isfinite(row["weight"])
        assert row["model"] in MODELS
        if row["conversion_type"] == "lead":
            assert row["model"] in LEAD_MODELS
            assert row["revenue"] is None
        else:
            assert math.isclose(row["revenue"], row["weight"] * 1000.0)
        key = (row["conversion_id"], row["model"])
        sums[key] = sums.get(key, 0.0) + row["weight"]
    for key, total in sums.items():
        assert abs(total - 1) <= 1e-9, (key, total)
    for i, (positions, _, _, opportunity, is_closed) in enumerate(shapes):
        # Models that need no position always credit a non-empty window (FT is in it).
        window = (
            len(positions)
            if opportunity and not is_closed
            else 1
            + max(
                (
                    j
                    for j, p in enumerate(positions)
                    if ("Closed" if opportunity else "LC") in p.split(",")
                ),
                default=-1,
            )
        )
        expected = {"first_touch", "linear", "time_decay", "last_touch", "markov", "shapley"}
        if window:
            assert expected <= {model for cid, model in sums if cid == f"c{i}"}


def test_a_single_touchpoint_gets_everything_from_every_model():
    single = journey("FT,LC,OC,Closed", channels=["search"], amount=250.0)
    result = attribution(
        single,
        credits_table({}),
        credits_table({"opportunity": {"search": 2.0}}),
        7 * DAY_US,
        custom_model(10, 20, 30, 30, 10),
    ).to_pyarrow()
    rows = {row["model"]: (row["weight"], row["revenue"]) for row in result.to_pylist()}
    assert rows == {model: (1.0, 250.0) for model in MODELS}
