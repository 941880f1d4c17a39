"""The dashboard's CSV downloads neutralise spreadsheet formulas; `export` stays verbatim."""

from __future__ import annotations

import csv
import io
from urllib.parse import unquote

from hypothesis import given
from hypothesis import strategies as st

from touchpoint.report.downloads import FORMULA_STARTS, csv_text, data_uri, neutralise


@given(st.text())
def test_no_text_cell_starts_like_a_formula(text):
    cell = neutralise(text)
    assert not str(cell).startswith(FORMULA_STARTS)
    assert str(cell).removeprefix("'") == text or cell == text


@given(st.lists(st.lists(st.one_of(st.text(), st.integers(), st.none()), min_size=2, max_size=2)))
def test_csv_reads_back_with_only_an_apostrophe_added(rows):
    text = csv_text(["a", "b"], rows)
    read = list(csv.reader(io.StringIO(text, newline="")))
    assert read[0] == ["a", "b"]
    for got, row in zip(read[1:], rows, strict=True):
        for cell, value in zip(got, row, strict=True):
            expected = "" if value is None else str(neutralise(value))
            assert cell == expected


def test_numbers_stay_numbers_and_formulas_become_text():
    text = csv_text(["x", "n"], [['=HYPERLINK("http://evil.example","x")', -3], ["@SUM(A1)", 2.5]])
    assert text.splitlines()[1:] == [
        '"\'=HYPERLINK(""http://evil.example"",""x"")",-3',
        "'@SUM(A1),2.5",
    ]


def test_a_download_link_carries_the_csv_with_a_byte_order_mark():
    uri = data_uri("a,b\r\n1,2\r\n")
    assert uri.startswith("data:text/csv;charset=utf-8,")
    assert unquote(uri.split(",", 1)[1]) == "\ufeffa,b\r\n1,2\r\n"
