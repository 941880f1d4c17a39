"""Delimited text (CSV, semicolon, tab, pipe) cut into records that survive broken rows.

Python's csv module reads the fields; this module decides where a record ends
when the file is broken. A record that spans lines (a quoted field holding line
breaks) but does not read as one — its quote never closes (before the end of
the file or `PARSE_LIMIT`), or a closing quote is followed by more text (quotes
only open and close fields) — is taken to start with a stray quote: its first
line is rejected and reading starts again on the next line, so one stray `"`
never swallows the rest of the file. A field longer than `FIELD_LIMIT` rejects
its record only.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Generator, Iterator

# Salesforce's longest text field (Long Text Area) holds 131,072 characters.
FIELD_LIMIT = 131_072
# How far a quoted field may run before it counts as never closed.
PARSE_LIMIT = 32 * 1024 * 1024
DETECTED = (",", ";", "\t", "|")  # in this order of preference when counts tie
_SEP_LINE = re.compile(r"sep=(.)\r?\n?")  # Excel's hint line: `sep=;`

csv.field_size_limit(max(csv.field_size_limit(), PARSE_LIMIT))


# One record of the file: its first line, its fields (None when broken), its lines as
# they were in the file (line ends removed) and why it is broken. A plain tuple: there
# is one per row of every file.
Record = tuple[int, list[str] | None, str, str | None]


def detect_delimiter(header: str) -> str:
    """The delimiter of a file by its header line: the candidate found most often
    outside quotes (a comma when there is none).

    >>> detect_delimiter('Id;Name;"Amount; EUR"')
    ';'
    >>> detect_delimiter("visitor_id\\ttype\\turl")
    '\\t'
    """
    outside = re.sub(r'"[^"]*"', "", header)
    counts = {mark: outside.count(mark) for mark in DETECTED}
    best = max(DETECTED, key=lambda mark: counts[mark])
    return best if counts[best] else ","


class DelimitedReader:
    """The records of a delimited text, the header first.

    `delimiter` None: the file's `sep=` line, else `detect_delimiter` on its header.
    """

    def __init__(self, handle: io.TextIOWrapper, delimiter: str | None = None):
        self.handle = handle
        self.number = 0  # lines taken from the file so far
        self._pending: list[str] = []  # lines to read (again) before the file's next
        first = handle.readline()
        sep = _SEP_LINE.fullmatch(first) if delimiter is None else None
        if sep:
            delimiter = sep.group(1)
            self.number = 1
        elif first:
            self._pending.append(first)
        self.delimiter = delimiter or detect_delimiter(self._peek_line())

    def _peek_line(self) -> str:
        if not self._pending:
            line = self.handle.readline()
            if line:
                self._pending.append(line)
        return self._pending[0] if self._pending else ""

    def __iter__(self) -> Iterator[Record]:
        # csv.reader reads from one copy of the lines (`tee`), the other gives each
        # record's own lines back: all in C, no Python call per line.
        while True:
            lines = itertools.chain(self._pending, iter(self.handle.readline, ""))
            self._pending = []
            ahead, behind = itertools.tee(lines)
            restart = yield from self._records(ahead, behind)
            if not restart:
                return

    def _records(
        self, ahead: Iterator[str], behind: Iterator[str]
    ) -> Generator[Record, None, bool]:
        """Records until the end (then False) or until reading must start again (True)."""
        reader = csv.reader(ahead, delimiter=self.delimiter, strict=True)
        read = 0  # lines the reader has taken
        while True:
            first = self.number + 1
            problem = None
            try:
                fields = next(reader)
            except StopIteration:
                return False
            except csv.Error as exc:
                problem = _csv_problem(str(exc))
                fields = []
            count = reader.line_num - read
            read = reader.line_num
            taken = [next(behind)] if count == 1 else list(itertools.islice(behind, count))
            self.number += count
            if problem:
                if count > 1:
                    # A record over several lines that does not read: a stray quote on its
                    # first line. Reject that line; read the others again.
                    self._pending = taken[1:]
                    self.number = first
                    opened = "an opening quote that is never closed"
                    yield (first, None, _text(taken[:1]), f'{opened} (a stray ")')
                else:
                    yield (first, None, _text(taken), problem)
                return True
            if not fields or not any(map(str.strip, fields)):
                continue  # a blank line
            if count > 1 or len(taken[0]) > FIELD_LIMIT:
                long = [i for i, value in enumerate(fields, start=1) if len(value) > FIELD_LIMIT]
                if long:
                    size = len(fields[long[0] - 1])
                    problem = (
                        f"field {long[0]} is {size:,} characters long, over the limit of "
                        f"{FIELD_LIMIT:,} (Salesforce's longest text field)"
                    )
                    yield (first, None, _text(taken), problem)
                    continue
            yield (first, fields, _text(taken), None)


def _text(lines: list[str]) -> str:
    text = lines[0] if len(lines) == 1 else "".join(lines)
    return text[:-2] if text.endswith("\r\n") else text.removesuffix("\n").removesuffix("\r")


def _csv_problem(message: str) -> str:
    if "unexpected end of data" in message:
        return 'an opening quote that is never closed (a stray ")'
    if "field larger than field limit" in message:
        return f"a field is longer than {PARSE_LIMIT:,} characters"
    if "expected after" in message:
        return "a closing quote is followed by more text in the same field"
    return f"not a CSV record ({message})"
