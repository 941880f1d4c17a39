"""The fast paths of the Task import write exactly what the plain ones did (hypothesis)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from touchpoint.sources.records import (
    _DECIMAL,
    _INTEGER,
    _RFC3339,
    EPOCH,
    FileProblem,
    ParseReport,
    RowBatches,
    as_received,
    compact_json,
    csv_records,
    from_us,
    sorted_json,
    to_us,
)

# Any text, lone surrogates too (json.loads makes them from "\ud800").
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)


@given(st.dictionaries(TEXT, st.none() | TEXT, max_size=8))
def test_a_csv_like_record_is_written_as_json_dumps_writes_it(record):
    assert compact_json(record) == json.dumps(
        record, ensure_ascii=False, separators=(",", ":"), default=str
    )
    assert sorted_json(record) == json.dumps(record, sort_keys=True, default=str)


@given(st.dictionaries(TEXT, JSON_VALUES, max_size=6) | JSON_VALUES)
def test_any_json_record_is_written_as_json_dumps_writes_it(record):
    assert compact_json(record) == json.dumps(
        record, ensure_ascii=False, separators=(",", ":"), default=str
    )
    try:
        expected = json.dumps(record, sort_keys=True, default=str)
    except TypeError:  # keys of mixed types cannot be sorted, by either
        return
    assert sorted_json(record) == expected


SALESFORCE_TIMES = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2300, 1, 1)).map(
    lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "+0000"
)
TIME_LIKE = st.from_regex(r"-?[0-9]{1,14}(\.[0-9]{1,4})?|[0-9T:+ .Z-]{1,30}", fullmatch=True)


@given(SALESFORCE_TIMES | TIME_LIKE | TEXT)
def test_no_time_text_fits_two_patterns(text):
    # parse_time tries RFC 3339 first: right only if no text is also a number.
    assert sum(bool(p.fullmatch(text)) for p in (_RFC3339, _INTEGER, _DECIMAL)) <= 1


@given(st.datetimes(timezones=st.just(UTC)) | st.datetimes(timezones=st.timezones()))
def test_to_us_is_exact(moment):
    delta = moment - EPOCH
    assert to_us(moment) == (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


CELLS = st.text(st.sampled_from('ab ,"\n\r\té\udcff'), max_size=5)


@given(st.lists(st.lists(CELLS, min_size=1, max_size=4), min_size=1, max_size=5))
def test_csv_records_give_each_row_back_as_it_was_written(tmp_path_factory, rows):
    path = Path(tmp_path_factory.mktemp("csv")) / "t.csv"
    with path.open("w", encoding="utf-8", errors="surrogateescape", newline="") as handle:
        csv.writer(handle).writerows([["a", "b", "c"], *rows])
    expected = []  # what the plain reading gives: a fresh writer per row, its first line
    with path.open(encoding="utf-8", errors="surrogateescape", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        start = 2
        for row in reader:
            if any(cell.strip() for cell in row):
                out = io.StringIO()
                csv.writer(out, lineterminator="\r\n").writerow(row)
                raw = out.getvalue().removesuffix("\r\n")
                clean = not any("\udc80" <= char <= "\udcff" for char in raw)
                expected.append(
                    (start, raw if clean else as_received(raw), clean and len(row) == 3)
                )
            start = reader.line_num + 1
    report = ParseReport()
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    first_other = next((char for char in text if not char.isascii()), "")
    if "\udc80" <= first_other <= "\udcff":  # the first text beyond ASCII is not UTF-8
        with pytest.raises(FileProblem, match="--encoding cp1252"):
            list(csv_records(path, report))
        return
    seen = [(line, raw, record is not None) for line, raw, record in csv_records(path, report)]
    assert seen == expected
    assert len(report.rejects) == sum(1 for *_, good in expected if not good)


NAMES = st.sampled_from(["a", "b", "c", "d"])


@given(st.lists(st.dictionaries(NAMES, st.none() | st.integers(-5, 5), max_size=4), max_size=6))
def test_row_batches_fill_each_column_by_the_rules(rows):
    schema = pa.schema([(name, pa.int64()) for name in ["a", "b", "c", "d"]])
    batches = RowBatches(schema, c=7)
    for row in rows:
        batches.add(row)
    assert len(batches) == len(rows)
    expected = {
        name: [row[name] if name in row else {"c": 7}.get(name) for row in rows]
        for name in schema.names
    }
    assert batches.take().to_pydict() == expected
    assert len(batches) == 0


def test_from_us_is_a_naive_utc_datetime():
    assert from_us(1_772_644_620_000_001) == datetime(2026, 3, 4, 17, 17) + timedelta(
        microseconds=1
    )
