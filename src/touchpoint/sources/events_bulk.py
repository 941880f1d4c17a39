"""Event files into the store at DuckDB speed, by the rules of `events.event_row`.

Each format is first read into one shape — per field, its JSON kind and its
text — and one SQL statement then checks and enriches every row at once. Rows
that fail go back to `event_row` one by one, which says why (and, should the
two ever disagree, has the last word: its row lands, nothing is lost).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa

from touchpoint.schema import RAW_EVENTS
from touchpoint.sources.events import (
    DEFAULT_PRIVACY,
    KNOWN_FIELDS,
    Privacy,
    event_row,
)
from touchpoint.sources.events_sql import events_sql, json_fields, parquet_fields, text_fields
from touchpoint.sources.files import AUTO, Dialect, not_utf8, utf8_blocks
from touchpoint.sources.records import (
    FileProblem,
    ParseReport,
    RecordError,
    RowBatches,
    compact_json,
    csv_records,
    empty_file,
)
from touchpoint.sources.urls import sql_string
from touchpoint.sources.user_agents import describe
from touchpoint.store import Staging

CHUNK_BYTES = 64 * 1024 * 1024
_decode = msgspec.json.Decoder().decode


class EventFileImport:
    """One events file on its way into a staging table."""

    def __init__(
        self,
        staged: Staging,
        path: Path,
        report: ParseReport,
        received_at: datetime,
        on_bytes: Callable[[int], None] = lambda _n: None,
        dialect: Dialect = AUTO,
        privacy: Privacy = DEFAULT_PRIVACY,
    ):
        self.on_bytes = on_bytes
        self.privacy = privacy
        self.dialect = dialect
        self.text_seen = False  # whether the file held text that is not ASCII before
        self.staged = staged
        self.con = staged.store.con
        self.path = path
        self.report = report
        self.params = {"received_at": received_at, "origin": f"file:{path.resolve()}"}

    def stage(self, fields: str) -> tuple[int, list[int]]:
        """Stage every valid row of a fields relation; return (rows seen, `_seq` of the others)."""
        seen = self.staged.append_sql(events_sql(fields, self.privacy.drop_params), self.params)
        staged = self.staged.name
        rows = self.con.execute(f"SELECT _seq FROM {staged} WHERE NOT _ok ORDER BY _seq").fetchall()
        failing = [int(row[0]) for row in rows]
        if failing:
            self.con.execute(f"DELETE FROM {staged} WHERE NOT _ok")
            self.staged.rows -= len(failing)
        self.report.seen += seen
        return seen, failing

    def explain_failures(
        self, failures: Sequence[tuple[str, str, dict[str, Any] | None, bool]]
    ) -> None:
        """Ask `event_row` why each failing row fails; land any it accepts."""
        rescued = RowBatches(RAW_EVENTS, **self.params)
        for source, raw, record, naive_is_utc in failures:
            if record is None:
                continue  # already rejected with its reason while reading
            try:
                rescued.add(event_row(record, naive_is_utc=naive_is_utc, privacy=self.privacy))
            except RecordError as exc:
                self.report.reject(source, raw, str(exc))
        if len(rescued):
            self.staged.append(rescued.take())


def import_ndjson(job: EventFileImport) -> None:
    """NDJSON: lines cut from the bytes without Python strings, checked in SQL."""
    unknown: set[str] = set()
    first = True
    for start_line, lines in _line_chunks(job):
        table = pa.table(
            {"_seq": np.arange(start_line, start_line + len(lines), dtype=np.int64), "line": lines}
        )
        with job.staged.store.registered(table) as view:
            if first:
                unknown |= _unknown_json_keys(job, view)
                first = False
            _, failing = job.stage(json_fields(view))
            if failing:
                failures = []
                for seq in failing:
                    line = lines[seq - start_line].as_py().rstrip("\r\n")
                    failures.append(_json_failure(job, f"{job.path}:{seq}", line))
                job.explain_failures(failures)
    if unknown:
        job.report.notes.append(f"{job.path}: ignored unknown fields {', '.join(sorted(unknown))}")


def _json_failure(
    job: EventFileImport, source: str, line: str
) -> tuple[str, str, dict[str, Any] | None, bool]:
    try:
        record = _decode(line)
    except msgspec.DecodeError as exc:
        job.report.reject(source, line, f"not valid JSON: {exc}")
        return source, line, None, False
    if not isinstance(record, dict):
        job.report.reject(source, line, f"not a JSON object but {_json_kind(record)}")
        return source, line, None, False
    return source, line, record, False


def _json_kind(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "true or false", type(None): "null"}
    return names.get(type(value), "a number")


def _unknown_json_keys(job: EventFileImport, view: str) -> set[str]:
    rows = job.con.execute(
        f"SELECT DISTINCT unnest(json_keys(line)) FROM {view} "
        "WHERE CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' ELSE false END"
    ).fetchall()
    return {row[0] for row in rows} - set(KNOWN_FIELDS)


def _line_chunks(job: EventFileImport) -> Iterator[tuple[int, pa.LargeStringArray]]:
    """(first line number, lines) per chunk of the file, lines as one Arrow array."""
    carry = b""
    line_number = 1
    first = True
    told = 0
    blocks = utf8_blocks(job.path, job.dialect, CHUNK_BYTES)
    for block, consumed in blocks:
        job.on_bytes(consumed - told)
        told = consumed
        if first:
            if not block:
                continue
            if block.lstrip()[:1] == b"[":
                yield from _json_array_chunk(job, block + b"".join(b for b, _ in blocks))
                return
            first = False
        data = carry + block
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            carry = data
            continue
        carry = data[cut:]
        chunk = data[:cut]
        yield from _split_lines(job, chunk, line_number)
        line_number += chunk.count(b"\n")
    if carry.strip():
        yield from _split_lines(job, carry, line_number)


def _split_lines(
    job: EventFileImport, data: bytes, first_line: int
) -> Iterator[tuple[int, pa.LargeStringArray]]:
    buffer = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(buffer == 10) + 1
    if not data.endswith(b"\n"):
        ends = np.append(ends, len(data))
    offsets = np.concatenate(([0], ends)).astype(np.int64)
    lines = pa.LargeStringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(data)
    )
    try:
        lines.validate(full=True)
    except pa.ArrowInvalid:
        lines = _reject_bad_utf8(job, data, offsets, first_line)
    else:
        job.text_seen = job.text_seen or not data.isascii()
    yield first_line, lines


def _reject_bad_utf8(
    job: EventFileImport, data: bytes, offsets: np.ndarray, first_line: int
) -> pa.LargeStringArray:
    """Lines of a chunk with bytes that are not UTF-8: reject those, keep the rest in place."""
    kept: list[str] = []
    for index in range(len(offsets) - 1):
        raw = data[offsets[index] : offsets[index + 1]]
        try:
            kept.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            first_text = raw[: exc.start].isascii()
            if first_text and not job.text_seen and job.dialect.encoding in (None, "utf-8"):
                text = raw.decode("utf-8", "surrogateescape").rstrip("\r\n")
                raise not_utf8(job.path, first_line + index, text) from None
            shown = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")
            reason = f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at byte {exc.start + 1}"
            job.report.reject(f"{job.path}:{first_line + index}", shown, reason)
            job.report.seen += 1
            kept.append("")  # a blank line keeps the numbering and is skipped
            continue
        job.text_seen = job.text_seen or not raw.isascii()
    return pa.array(kept, pa.large_string())


def _json_array_chunk(
    job: EventFileImport, data: bytes
) -> Iterator[tuple[int, pa.LargeStringArray]]:
    """A file holding one JSON array: each item becomes a line (numbered from 1)."""
    try:
        items = _decode(data)
    except msgspec.DecodeError as exc:
        raise FileProblem(
            f"{job.path} starts like a JSON array but is not valid JSON ({exc}); "
            "events files take one JSON object per line"
        ) from None
    if not isinstance(items, list):
        raise FileProblem(f"{job.path}: events files take one JSON object per line")
    job.report.notes.append(
        f"{job.path} holds a JSON array, not one object per line; read its {len(items)} items"
    )
    lines = [msgspec.json.encode(item).decode() for item in items]
    yield 1, pa.array(lines, pa.large_string())


def import_csv(job: EventFileImport) -> None:
    """CSV: rows read by Python's csv module into columns, checked in SQL."""
    present: set[str] = set()
    columns: dict[str, list[Any]] = {}
    raws: dict[int, str] = {}
    header_seen: list[str] = []
    for seq, raw, record in csv_records(job.path, job.report, job.dialect):
        if record is None:
            job.report.seen += 1
            continue
        if not columns:
            header_seen = list(record)
            present = {name for name in header_seen if name in KNOWN_FIELDS}
            columns = {name: [] for name in (*present, "_seq")}
        for name in present:
            columns[name].append(record.get(name))
        columns["_seq"].append(seq)
        raws[seq] = raw
    if not columns:
        if job.report.seen == 0:
            raise empty_file(job.path)
        return
    table = pa.table(
        {
            name: pa.array(values, pa.int64() if name == "_seq" else pa.string())
            for name, values in columns.items()
        }
    )
    with job.staged.store.registered(table) as view:
        _, failing = job.stage(text_fields(view, present))
    if failing:
        # `event_row` reads only the known fields, which the columns hold.
        index = {seq: i for i, seq in enumerate(columns["_seq"])}
        failures = []
        for seq in failing:
            record = {name: columns[name][index[seq]] for name in present}
            failures.append((f"{job.path}:{seq}", raws[seq], record, False))
        job.explain_failures(failures)
    unknown = [name for name in header_seen if name not in KNOWN_FIELDS]
    if unknown:
        job.report.notes.append(f"{job.path}: ignored unknown fields {', '.join(sorted(unknown))}")


def import_parquet(job: EventFileImport) -> None:
    """Parquet: scanned by DuckDB with native types (timestamps without zone are UTC)."""
    source = f"read_parquet({sql_string(str(job.path))}, file_row_number = true)"
    try:
        described = job.con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    except Exception as exc:
        if not job.path.exists():
            raise FileProblem(f"{job.path}: no such file") from None
        raise FileProblem(
            f"{job.path} is not a readable Parquet file ({str(exc).splitlines()[0]})"
        ) from None
    types = {row[0]: str(row[1]) for row in described}
    seen, failing = job.stage(parquet_fields(source, types))
    if seen == 0:
        raise empty_file(job.path)
    if failing:
        listed = ", ".join(str(seq) for seq in failing)
        cursor = job.con.execute(
            f"SELECT * FROM {source} WHERE file_row_number IN ({listed}) ORDER BY file_row_number"
        )
        names = [d[0] for d in cursor.description]
        failures = []
        for values in cursor.fetchall():
            row = dict(zip(names, values, strict=True))
            seq = row.pop("file_row_number")
            failures.append((f"{job.path}#row{seq + 1}", compact_json(row), row, True))
        job.explain_failures(failures)
    unknown = [name for name in types if name not in KNOWN_FIELDS and name != "file_row_number"]
    if unknown:
        job.report.notes.append(f"{job.path}: ignored unknown fields {', '.join(sorted(unknown))}")


def import_event_file(
    staged: Staging,
    path: Path,
    fmt: str,
    report: ParseReport,
    received_at: datetime,
    on_bytes: Callable[[int], None] = lambda _n: None,
    dialect: Dialect = AUTO,
    privacy: Privacy = DEFAULT_PRIVACY,
) -> None:
    """Stage the good events of one file; rejects and notes go to `report`.

    `on_bytes` hears how much of the file has been read, for a progress bar;
    `dialect` is how to read a text file (CSV delimiter, encoding); `privacy`
    what is not kept (`[collector] drop_params`, `store_user_agent`).
    """
    job = EventFileImport(staged, path, report, received_at, on_bytes, dialect, privacy)
    if fmt == "ndjson":
        import_ndjson(job)
        if report.seen == 0:
            raise empty_file(path)
    elif fmt == "csv":
        import_csv(job)
        on_bytes(path.stat().st_size)
    else:
        import_parquet(job)
        on_bytes(path.stat().st_size)
    reduce_user_agents(staged, privacy)


def reduce_user_agents(staged: Staging, privacy: Privacy) -> None:
    """Each staged user agent → its browser, OS and device class (`user_agents.describe`),
    parsed once per distinct string; the string itself stays only with `store_user_agent`."""
    con = staged.store.con
    rows = con.execute(
        f"SELECT DISTINCT user_agent FROM {staged.name} WHERE user_agent IS NOT NULL "
        "AND browser IS NULL AND os IS NULL AND device IS NULL"
    ).fetchall()
    if not rows:
        return
    agents = [row[0] for row in rows]
    described = [describe(agent) for agent in agents]
    table = pa.table(
        {
            "agent": agents,
            "browser": [d.browser for d in described],
            "os": [d.os for d in described],
            "device": [d.device for d in described],
        },
        schema=pa.schema([(name, pa.string()) for name in ("agent", "browser", "os", "device")]),
    )
    kept = "s.user_agent" if privacy.store_user_agent else "NULL"
    with staged.store.registered(table) as view:
        con.execute(
            f"UPDATE {staged.name} AS s SET browser = m.browser, os = m.os, device = m.device, "
            f"user_agent = {kept} FROM {view} AS m WHERE s.user_agent = m.agent"
        )
