"""`touchpoint attribute-paths`: aggregated channel paths → channel credit per model.

The input is what ChannelAttribution takes: `path,total_conversions,
total_conversion_value,total_null`, channels joined by ` > `. Paths carry no
times or CRM positions, so the models here are those a path alone defines:
first touch, last touch, linear, U-shaped (the first touch as FT, the last as
LC), Markov (removal effects solved exactly) and Shapley.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from touchpoint.errors import TouchpointError
from touchpoint.stages.attribution.markov import (
    CONVERSION,
    NULL,
    START,
    STATE_SEPARATOR,
    removal_effects,
)

PATH_MODELS = ("first_touch", "last_touch", "linear", "u_shaped", "markov", "shapley")
REQUIRED = ("path", "total_conversions")
OPTIONAL = ("total_conversion_value", "total_null")

Credit = dict[str, tuple[float, float]]  # channel → (conversions, value)


@dataclass(frozen=True)
class Paths:
    """Paths as channel codes: path i is `codes[offsets[i]:offsets[i + 1]]`, with its totals."""

    names: list[str]  # channel name by code
    codes: np.ndarray
    offsets: np.ndarray
    conversions: np.ndarray
    values: np.ndarray
    nulls: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def path_of_step(self) -> np.ndarray:
        """For each step, the index of its path."""
        return np.repeat(np.arange(len(self.lengths)), self.lengths)

    @property
    def channels(self) -> list[tuple[str, ...]]:
        """Each path as a tuple of channel names."""
        names = self.names
        return [
            tuple(names[c] for c in self.codes[a:b])
            for a, b in zip(self.offsets[:-1], self.offsets[1:], strict=True)
        ]


def parse_paths(
    paths: Sequence[str] | pa.Array,
    conversions: Sequence[float],
    values: Sequence[float] | None = None,
    nulls: Sequence[float] | None = None,
    separator: str = ">",
) -> Paths:
    """Paths as text → channel codes (names trimmed, empty steps and empty paths dropped)."""
    text = paths if isinstance(paths, pa.Array) else pa.array(paths, pa.string())
    parts = pc.split_pattern(text, separator)
    steps = pc.utf8_trim_whitespace(pc.list_flatten(parts))
    parent = pc.list_parent_indices(parts).to_numpy()
    kept = pc.not_equal(steps, "").to_numpy(zero_copy_only=False)
    encoded = pc.dictionary_encode(steps.filter(pa.array(kept)))
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    parent = parent[kept]
    lengths = np.bincount(parent, minlength=len(text)).astype(np.int64)
    nonempty = lengths > 0

    def totals(column: Sequence[float] | None) -> np.ndarray:
        if column is None:
            return np.zeros(int(nonempty.sum()))
        return np.asarray(column, dtype=np.float64)[nonempty]

    return Paths(
        names=[str(name) for name in encoded.dictionary.to_pylist()],
        codes=encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64),
        offsets=np.concatenate([[0], np.cumsum(lengths[nonempty])]).astype(np.int64),
        conversions=totals(conversions),
        values=totals(values),
        nulls=totals(nulls),
    )


def read_paths(path: Path) -> Paths:
    """Read an aggregated path CSV, summing identical paths first (fast on millions of rows)."""
    try:
        table = pa_csv.read_csv(
            path, convert_options=pa_csv.ConvertOptions(strings_can_be_null=False)
        )
    except FileNotFoundError:
        raise TouchpointError(f"{path}: no such file") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise TouchpointError(f"{path} is not a readable CSV file: {exc}") from None
    missing = [name for name in REQUIRED if name not in table.column_names]
    if missing:
        raise TouchpointError(
            f"{path} has no column {missing[0]}; expected "
            "path,total_conversions,total_conversion_value,total_null"
        )
    columns = {"path": table["path"].cast(pa.string())}
    for name in (*REQUIRED[1:], *OPTIONAL):
        if name in table.column_names:
            try:
                values = table[name].cast(pa.float64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise TouchpointError(
                    f"{path}: column {name} holds values that are not numbers"
                ) from None
            columns[name] = pc.fill_null(values, 0.0)
    grouped = (
        pa.table(columns)
        .group_by("path")
        .aggregate([(name, "sum") for name in columns if name != "path"])
    )
    get = {name: grouped[f"{name}_sum"].to_numpy() for name in columns if name != "path"}
    return parse_paths(
        grouped["path"].combine_chunks(),
        get["total_conversions"],
        get.get("total_conversion_value"),
        get.get("total_null"),
    )


def _by_channel(paths: Paths, conversions: np.ndarray, values: np.ndarray) -> Credit:
    count = len(paths.names)
    c = np.bincount(paths.codes, weights=conversions, minlength=count)
    v = np.bincount(paths.codes, weights=values, minlength=count)
    return {name: (float(c[i]), float(v[i])) for i, name in enumerate(paths.names)}


def heuristic_credit(paths: Paths, model: str) -> Credit:
    """First touch, last touch, linear or U-shaped credit per channel: (conversions, value).

    >>> p = parse_paths(["a > b > c", "a"], [2, 1], [20, 5])
    >>> heuristic_credit(p, "linear")["a"]
    (1.6666666666666665, 11.666666666666666)
    >>> heuristic_credit(p, "u_shaped")["b"]  # a > b > c: 40, 20, 40
    (0.4, 4.0)
    """
    owner = paths.path_of_step
    length = paths.lengths[owner]
    position = np.arange(len(paths.codes)) - paths.offsets[:-1][owner]
    first, last = position == 0, position == length - 1
    if model == "first_touch":
        share = first.astype(np.float64)
    elif model == "last_touch":
        share = last.astype(np.float64)
    elif model == "linear":
        share = 1.0 / length
    else:  # u_shaped: FT 40, LC 40, middle 20; without middle touches FT and LC split 50:50
        middle = 0.2 / np.maximum(length - 2, 1)
        share = np.where(first | last, np.where(length > 2, 0.4, 0.5), middle)
        share = np.where(length == 1, 1.0, share)
    return _by_channel(paths, share * paths.conversions[owner], share * paths.values[owner])


def markov_credit(paths: Paths, order: int = 1) -> Credit:
    """Conversions and value shared by the channels' removal effects.

    Three walks start at a; "a > b" (1 conversion, 1 null) and "a" (1
    conversion) give P(conversion) = 1/3 + 2/3 · 1/2 = 2/3. Without a nothing
    converts (removal effect 1); without b only 1/3 does (removal effect 1/2).

    >>> p = parse_paths(["a > b", "a"], [1, 1], [10, 10], [1, 0])
    >>> {channel: round(c, 4) for channel, (c, _) in markov_credit(p).items()}
    {'a': 1.3333, 'b': 0.6667}
    """
    transitions = _transitions(paths) if order == 1 else _transitions_of_order(paths, order)
    effects = removal_effects(transitions)
    total_conversions = float(paths.conversions.sum())
    total_value = float(paths.values.sum())
    by_conversions = sum(effects.conversions.values())
    by_value = sum(effects.value.values())
    return {
        channel: (
            total_conversions * effects.conversions[channel] / by_conversions
            if by_conversions
            else 0.0,
            total_value * effects.value[channel] / by_value if by_value else 0.0,
        )
        for channel in paths.names
        if channel in effects.conversions
    }


def _transitions(paths: Paths) -> list[tuple[str, str, float, float]]:
    """First-order transition totals, counted with numpy (one pass over the steps)."""
    count = len(paths.names)
    start = count  # the code of (start)
    owner = paths.path_of_step
    walks = (paths.conversions + paths.nulls)[owner]
    previous = np.empty_like(paths.codes)
    previous[1:] = paths.codes[:-1]
    previous[paths.offsets[:-1]] = start
    moves = np.bincount(
        previous * (count + 1) + paths.codes, weights=walks, minlength=(count + 1) ** 2
    )
    last = paths.codes[paths.offsets[1:] - 1]
    converted = np.bincount(last, weights=paths.conversions, minlength=count)
    worth = np.bincount(last, weights=paths.values, minlength=count)
    lost = np.bincount(last, weights=paths.nulls, minlength=count)
    names = [*paths.names, START]
    rows = [
        (names[key // (count + 1)], names[key % (count + 1)], float(moves[key]), 0.0)
        for key in np.flatnonzero(moves)
    ]
    for code, name in enumerate(paths.names):
        if converted[code]:
            rows.append((name, CONVERSION, float(converted[code]), float(worth[code])))
        if lost[code]:
            rows.append((name, NULL, float(lost[code]), 0.0))
    return rows


def _transitions_of_order(paths: Paths, order: int) -> list[tuple[str, str, float, float]]:
    """Transition totals between states of the last `order` channels (plain Python)."""
    transitions: dict[tuple[str, str], list[float]] = {}

    def add(source: str, target: str, count: float, value: float = 0.0) -> None:
        totals = transitions.setdefault((source, target), [0.0, 0.0])
        totals[0] += count
        totals[1] += value

    for steps, conversions, value, nulls in zip(
        paths.channels, paths.conversions, paths.values, paths.nulls, strict=True
    ):
        previous = START
        for i in range(len(steps)):
            state = STATE_SEPARATOR.join(steps[max(0, i - order + 1) : i + 1])
            add(previous, state, conversions + nulls)
            previous = state
        if conversions:
            add(previous, CONVERSION, conversions, value)
        if nulls:
            add(previous, NULL, nulls)
    return [(s, t, c, v) for (s, t), (c, v) in transitions.items()]


def shapley_credit(paths: Paths) -> Credit:
    """Shapley values of v(S) = conversions (and value) of paths whose channels lie within S.

    >>> shapley_credit(parse_paths(["a > b", "a > a"], [1, 1], [4, 2]))
    {'a': (1.5, 4.0), 'b': (0.5, 2.0)}
    """
    count = len(paths.names)
    if count <= 64:  # a path × channel table is small: no sort needed
        present = np.zeros((len(paths.lengths), count), dtype=bool)
        present[paths.path_of_step, paths.codes] = True
        distinct = np.maximum(present.sum(axis=1), 1)
        c = (paths.conversions / distinct) @ present
        v = (paths.values / distinct) @ present
    else:
        pairs = np.unique(paths.path_of_step * count + paths.codes)
        owner, code = pairs // count, pairs % count
        share = 1.0 / np.bincount(owner, minlength=len(paths.lengths))[owner]
        c = np.bincount(code, weights=paths.conversions[owner] * share, minlength=count)
        v = np.bincount(code, weights=paths.values[owner] * share, minlength=count)
    return {name: (float(c[i]), float(v[i])) for i, name in enumerate(paths.names)}


def choose_models(text: str | None) -> tuple[str, ...]:
    """The models asked for with `--models a,b` (all of them when None)."""
    if text is None:
        return PATH_MODELS
    chosen = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in chosen if name not in PATH_MODELS]
    if unknown or not chosen:
        shown = unknown[0] if unknown else text
        raise TouchpointError(
            f"unknown model {shown!r} for paths; use some of {','.join(PATH_MODELS)}"
        )
    return chosen


def attribute_paths(
    paths: Paths, models: Sequence[str], order: int = 1
) -> list[tuple[str, str, float, float]]:
    """`(channel, model, conversions, value)` rows, by model then channel."""
    rows: list[tuple[str, str, float, float]] = []
    for model in models:
        if model == "markov":
            credit = markov_credit(paths, order)
        elif model == "shapley":
            credit = shapley_credit(paths)
        else:
            credit = heuristic_credit(paths, model)
        rows.extend((channel, model, c, v) for channel, (c, v) in sorted(credit.items()))
    return rows


def attribute_paths_file(path: Path, models: str | None, out: TextIO, order: int = 1) -> int:
    """Read a path file, attribute it, write CSV `channel,model,conversions,value`; return rows."""
    chosen = choose_models(models)
    rows = attribute_paths(read_paths(path), chosen, order)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("channel", "model", "conversions", "value"))
    writer.writerows(rows)
    out.flush()
    return len(rows)
