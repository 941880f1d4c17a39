"""Data-driven credit (Markov, Shapley) and `touchpoint attribute-paths` on path files."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from touchpoint.stages.attribution.markov import CONVERSION, NULL, START, removal_effects
from touchpoint.stages.attribution.paths import (
    PATH_MODELS,
    attribute_paths,
    markov_credit,
    parse_paths,
)
from touchpoint.stages.attribution.shapley import shapley_by_subsets, shapley_values

CHANNELS = st.sampled_from(["a", "b", "c", "d", "e", "f"])
PATHS = st.lists(
    st.tuples(
        st.lists(CHANNELS, min_size=1, max_size=6),
        st.integers(0, 5),  # conversions
        st.integers(0, 5),  # nulls
    ),
    min_size=1,
    max_size=12,
)


def conversion_probability(transitions, removed: str | None) -> float:
    """P(start → conversion) by iterating the chain's step until it stops moving."""
    totals: dict[str, float] = {}
    for source, _, count, _ in transitions:
        totals[source] = totals.get(source, 0.0) + count
    states = sorted(totals)
    reach = dict.fromkeys(states, 0.0)
    for _ in range(20_000):
        updated = {}
        for state in states:
            if removed is not None and state == removed:
                updated[state] = 0.0
                continue
            value = 0.0
            for source, target, count, _ in transitions:
                if source != state or not count:
                    continue
                p = count / totals[state]
                if target == CONVERSION:
                    value += p
                elif target != NULL and target != removed:
                    value += p * reach.get(target, 0.0)
            updated[state] = value
        if max(abs(updated[s] - reach[s]) for s in states) < 1e-15:
            reach = updated
            break
        reach = updated
    return reach[START]


def transitions_of(paths):
    counts: dict[tuple[str, str], float] = {}
    for steps, conversions, nulls in paths:
        previous = START
        for step in steps:
            counts[(previous, step)] = counts.get((previous, step), 0) + conversions + nulls
            previous = step
        counts[(previous, CONVERSION)] = counts.get((previous, CONVERSION), 0) + conversions
        counts[(previous, NULL)] = counts.get((previous, NULL), 0) + nulls
    return [(s, t, c, c if t == CONVERSION else 0) for (s, t), c in counts.items() if c]


@given(PATHS)
def test_markov_removal_effects_are_the_exact_absorption_probabilities(paths):
    transitions = transitions_of(paths)
    if not any(target == CONVERSION for _, target, _, _ in transitions):
        return
    effects = removal_effects(transitions).conversions
    base = conversion_probability(transitions, None)
    for channel, effect in effects.items():
        without = conversion_probability(transitions, channel)
        assert math.isclose(effect, 1 - without / base, abs_tol=1e-9), channel


@given(PATHS)
def test_shapley_by_unanimity_equals_the_sum_over_subsets(paths):
    journeys = [(frozenset(steps), float(conversions)) for steps, conversions, _ in paths]
    fast, slow = shapley_values(journeys), shapley_by_subsets(journeys)
    assert fast.keys() <= slow.keys()
    for channel, value in slow.items():
        assert math.isclose(fast.get(channel, 0.0), value, abs_tol=1e-9)


@given(PATHS, st.integers(1, 3))
def test_every_path_model_shares_out_exactly_the_total(paths, order):
    parsed = parse_paths(
        [" > ".join(steps) for steps, _, _ in paths],
        [float(c) for _, c, _ in paths],
        [2.5 * c for _, c, _ in paths],
        [float(n) for _, _, n in paths],
    )
    total = sum(parsed.conversions)
    by_model: dict[str, list[float]] = {}
    for _, model, conversions, value in attribute_paths(parsed, PATH_MODELS, order):
        sums = by_model.setdefault(model, [0.0, 0.0])
        sums[0] += conversions
        sums[1] += value
    for model, (conversions, value) in by_model.items():
        if model == "markov" and not any(markov_credit(parsed, order).values()):
            continue
        assert math.isclose(conversions, total, abs_tol=1e-6), model
        assert math.isclose(value, 2.5 * total, abs_tol=1e-6), model


def test_a_channel_on_every_converting_path_has_removal_effect_one():
    p = parse_paths(["a > b", "c > b", "a"], [3, 2, 0], nulls=[1, 1, 4])
    effects = np.array([markov_credit(p)[c][0] for c in ("a", "b", "c")])
    assert effects[1] > effects[0] > effects[2] > 0


PATH_FILE = """path,total_conversions,total_conversion_value,total_null
a > b > c,2,20,1
a,1,5,3
b > b,0,0,2
a > b > c,1,10,0
"""


def test_attribute_paths_writes_channel_model_conversions_value(cli, workdir):
    (workdir / "paths.csv").write_text(PATH_FILE)
    result = cli("attribute-paths", "paths.csv", "--models", "first_touch,linear")
    assert result.code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["channel", "model", "conversions", "value"]
    got = {(r["model"], r["channel"]): (float(r["conversions"]), float(r["value"])) for r in rows}
    assert got[("first_touch", "a")] == (4.0, 35.0)
    assert got[("linear", "c")] == (1.0, 10.0)
    assert {model for model, _ in got} == {"first_touch", "linear"}


def test_attribute_paths_defaults_to_every_path_model(cli, workdir):
    (workdir / "paths.csv").write_text(PATH_FILE)
    result = cli("attribute-paths", "paths.csv")
    assert result.code == 0, result.stderr
    assert {r["model"] for r in csv.DictReader(io.StringIO(result.stdout))} == set(PATH_MODELS)


def test_attribute_paths_errors_are_one_line(cli, workdir):
    (workdir / "paths.csv").write_text(PATH_FILE)
    unknown = cli("attribute-paths", "paths.csv", "--models", "linear,w_shaped")
    assert unknown.code == 1
    assert "unknown model 'w_shaped' for paths" in unknown.stderr
    (workdir / "bad.csv").write_text("journey,conversions\na,1\n")
    missing = cli("attribute-paths", "bad.csv")
    assert missing.code == 1
    assert "bad.csv has no column path" in missing.stderr
    absent = cli("attribute-paths", "nowhere.csv")
    assert absent.code == 1
    assert "nowhere.csv: no such file" in absent.stderr
    for result in (unknown, missing, absent):
        assert "Traceback" not in result.stderr
