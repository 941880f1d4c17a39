"""Event files into the store at DuckDB speed, by the rules of `events.event_row`.

Each format is first read into one shape — per field, its JSON kind and its
text — and one SQL statement then checks and enriches every row at once. Rows
that fail go back to `event_row` one by one, which says why (and, should the
two ever disagree, has the last word: its row lands, nothing is lost).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa

from touchpoint.enrich import (
    CLICK_ID_PARAMS,
    UTM_PARAMS,
    sql_after_userinfo,
    sql_authority,
    sql_host_of,
    sql_is_http_url,
    sql_param,
    sql_path,
    sql_query,
    sql_strip,
)
from touchpoint.schema import RAW_EVENTS
from touchpoint.sources.events import (
    EVENT_ID_MAX,
    EVENT_TYPES,
    KNOWN_FIELDS,
    OPTIONAL_TEXT,
    VISITOR_ID,
    event_row,
)
from touchpoint.sources.records import (
    DECIMAL,
    EARLIEST_US,
    INTEGER,
    LATEST_US,
    RFC3339,
    FileProblem,
    ParseReport,
    RecordError,
    RowBatches,
    compact_json,
    csv_records,
    empty_file,
    open_text,
)
from touchpoint.store import Staging

CHUNK_BYTES = 64 * 1024 * 1024
BLANK_LINE = r"[ \t\n\r\f\v]*"
_JSON_KINDS_INT = "('BIGINT', 'UBIGINT')"
_decode = msgspec.json.Decoder().decode


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def events_sql(fields: str) -> str:
    """SQL over a relation of fields (`<name>_kind`, `<name>_text`, `_seq`, `_object`,
    `occurred_at_us`) giving the raw-events columns, `_seq`, and `_ok` for a valid event.

    The columns of rows that are not `_ok` mean nothing; those rows never land.
    """
    strip_url = sql_strip("url_text")
    occurred = sql_strip("occurred_at_text")
    event_id = sql_strip("event_id_text")
    texts = {name: f"nullif({sql_strip(f'{name}_text')}, '')" for name in OPTIONAL_TEXT}
    text_ok = " AND ".join(
        f"({name}_kind IS NULL OR {name}_kind IN ('NULL', 'VARCHAR'))" for name in OPTIONAL_TEXT
    )
    props = sql_strip("properties_text")
    types = ", ".join(_quote(t) for t in EVENT_TYPES)
    params = {
        name: f"CASE WHEN contains(lower(query), '{name}=') THEN {sql_param('query', name)} END"
        for name in (*UTM_PARAMS, *CLICK_ID_PARAMS)
    }
    click_param = (
        "CASE "
        + " ".join(f"WHEN {name} IS NOT NULL THEN '{name}'" for name in CLICK_ID_PARAMS)
        + " END"
    )
    click_id = "coalesce(" + ", ".join(CLICK_ID_PARAMS) + ")"
    return f"""
WITH cleaned AS (
  SELECT *, {strip_url} AS url_clean, {occurred} AS occ_clean, {event_id} AS event_id_clean,
    {texts["referrer"]} AS referrer_clean
  FROM ({fields})
), authorities AS (
  SELECT *, {sql_authority("url_clean")} AS url_authority,
    {sql_authority("referrer_clean")} AS referrer_authority
  FROM cleaned
), hosts AS (
  SELECT *, {sql_after_userinfo("url_authority")} AS url_rest,
    {sql_after_userinfo("referrer_authority")} AS referrer_rest
  FROM authorities
), timed AS (
  SELECT *,
    CASE
      WHEN occurred_at_kind IN {_JSON_KINDS_INT} THEN TRY_CAST(occurred_at_text AS HUGEINT) * 1000
      WHEN occurred_at_kind = 'DOUBLE'
        THEN TRY_CAST(round_even(TRY_CAST(occurred_at_text AS DOUBLE) * 1000, 0) AS HUGEINT)
      WHEN occurred_at_kind = 'VARCHAR' AND regexp_full_match(occ_clean, {_quote(INTEGER)})
        THEN CASE WHEN length(occ_clean) <= 19 THEN CAST(occ_clean AS HUGEINT) * 1000 END
      WHEN occurred_at_kind = 'VARCHAR' AND regexp_full_match(occ_clean, {_quote(DECIMAL)})
        THEN TRY_CAST(round_even(TRY_CAST(occ_clean AS DOUBLE) * 1000, 0) AS HUGEINT)
      WHEN occurred_at_kind = 'VARCHAR' AND regexp_full_match(occ_clean, {_quote(RFC3339)})
        THEN epoch_us(TRY_CAST(occ_clean AS TIMESTAMPTZ))
      WHEN occurred_at_kind = 'TIMESTAMP' THEN occurred_at_us
    END AS occ_us,
    CASE WHEN url_kind = 'VARCHAR' THEN {sql_host_of("url_rest")} END AS page_host,
    {sql_query("url_clean")} AS query
  FROM hosts
), checked AS (
  SELECT *,
    coalesce(
      _object
      AND visitor_id_kind = 'VARCHAR' AND regexp_full_match(visitor_id_text, {_quote(VISITOR_ID)})
      AND type_kind = 'VARCHAR' AND type_text IN ({types})
      AND occ_us >= {EARLIEST_US} AND occ_us < {LATEST_US}
      AND url_kind = 'VARCHAR' AND {sql_is_http_url("url_clean")} AND page_host IS NOT NULL
      AND (event_id_kind IS NULL OR event_id_kind = 'NULL' OR event_id_kind IN {_JSON_KINDS_INT}
           OR (event_id_kind = 'VARCHAR' AND length(event_id_clean) <= {EVENT_ID_MAX}))
      AND {text_ok}
      AND (properties_kind IS NULL OR properties_kind IN ('NULL', 'OBJECT')
           OR (properties_kind = 'VARCHAR' AND ({props} = ''
               OR CASE WHEN json_valid({props}) THEN json_type({props}) = 'OBJECT' ELSE false END))),
      false) AS _ok
  FROM timed
), enriched AS (
  SELECT *, {", ".join(f"{expr} AS {name}" for name, expr in params.items())}
  FROM checked
)
SELECT
  CASE
    WHEN NOT _ok THEN NULL
    WHEN event_id_kind = 'VARCHAR' AND event_id_clean <> '' THEN event_id_clean
    WHEN event_id_kind IN {_JSON_KINDS_INT} THEN event_id_text
    ELSE md5(concat_ws(chr(31), visitor_id_text, type_text, CAST(occ_us AS VARCHAR), url_clean))
  END AS event_id,
  visitor_id_text AS visitor_id,
  type_text AS type,
  make_timestamp(CAST(CASE WHEN _ok THEN occ_us END AS BIGINT)) AS occurred_at,
  CAST(CASE WHEN _ok THEN occ_us END AS BIGINT) AS occurred_us,
  url_clean AS url,
  referrer_clean AS referrer,
  {texts["title"]} AS title,
  lower({texts["email"]}) AS email,
  {texts["user_agent"]} AS user_agent,
  CASE
    WHEN NOT _ok THEN NULL
    WHEN properties_kind = 'OBJECT' THEN CAST(json(properties_text) AS VARCHAR)
    WHEN properties_kind = 'VARCHAR' AND {props} <> '' THEN CAST(json({props}) AS VARCHAR)
  END AS properties,
  page_host,
  {sql_path("url_clean")} AS page_path,
  {sql_host_of("referrer_rest")} AS referrer_host,
  {", ".join(UTM_PARAMS)},
  {click_id} AS click_id,
  {click_param} AS click_id_param,
  CAST(NULL AS VARCHAR) AS client_ip,
  CAST($received_at AS TIMESTAMP) AS received_at,
  $origin AS origin,
  _seq,
  _ok
FROM enriched
"""


def _json_fields(lines: str) -> str:
    """The fields relation of a relation `lines(_seq, line)` of JSON text.

    Two parses per line in all: one for every field's kind, one for its text.
    """
    paths = "[" + ", ".join(_quote(f"$.{name}") for name in KNOWN_FIELDS) + "]"
    columns = []
    for index, name in enumerate(KNOWN_FIELDS, start=1):
        columns.append(f"_kinds[{index}] AS {name}_kind")
        columns.append(f"_texts[{index}] AS {name}_text")
    return f"""
SELECT _seq, _object, CAST(NULL AS BIGINT) AS occurred_at_us, {", ".join(columns)}
FROM (
  SELECT _seq, _object,
    CASE WHEN _object THEN json_type(line, {paths}) END AS _kinds,
    CASE WHEN _object THEN json_extract_string(line, {paths}) END AS _texts
  FROM (
    SELECT _seq, line, CASE WHEN _valid THEN json_type(line) = 'OBJECT' ELSE false END AS _object
    FROM (SELECT _seq, line, json_valid(line) AS _valid FROM {lines} WHERE NOT regexp_full_match(line, {_quote(BLANK_LINE)}))
  )
)"""


def _text_fields(rows: str, present: set[str]) -> str:
    """The fields relation of a relation of text columns (CSV): empty cells are missing."""
    columns = []
    for name in KNOWN_FIELDS:
        if name in present:
            columns.append(
                f"CASE WHEN \"{name}\" IS NULL THEN NULL ELSE 'VARCHAR' END AS {name}_kind"
            )
            columns.append(f'"{name}" AS {name}_text')
        else:
            columns.append(
                f"CAST(NULL AS VARCHAR) AS {name}_kind, CAST(NULL AS VARCHAR) AS {name}_text"
            )
    return f"SELECT _seq, true AS _object, CAST(NULL AS BIGINT) AS occurred_at_us, {', '.join(columns)} FROM {rows}"


_PARQUET_KINDS = {
    "VARCHAR": "VARCHAR",
    "BOOLEAN": "BOOLEAN",
    "DOUBLE": "DOUBLE",
    "FLOAT": "DOUBLE",
}


def _parquet_fields(source: str, types: dict[str, str]) -> str:
    """The fields relation of a Parquet scan, by each column's native type."""
    columns = []
    occurred_us = "CAST(NULL AS BIGINT)"
    for name in KNOWN_FIELDS:
        kind_name = types.get(name)
        quoted = f'"{name}"'
        if kind_name is None:
            columns.append(
                f"CAST(NULL AS VARCHAR) AS {name}_kind, CAST(NULL AS VARCHAR) AS {name}_text"
            )
            continue
        if kind_name.startswith("TIMESTAMP"):
            kind = "'TIMESTAMP'"
            if name == "occurred_at":
                occurred_us = f"epoch_us({quoted})"
        elif kind_name in (
            "BIGINT",
            "INTEGER",
            "SMALLINT",
            "TINYINT",
            "UBIGINT",
            "UINTEGER",
            "USMALLINT",
            "UTINYINT",
            "HUGEINT",
        ):
            kind = "'BIGINT'"
        elif kind_name.startswith(("STRUCT", "MAP")):
            kind = "'OBJECT'"
        else:
            kind = _quote(_PARQUET_KINDS.get(kind_name, "OTHER"))
        text = (
            f"CAST(to_json({quoted}) AS VARCHAR)"
            if kind == "'OBJECT'"
            else f"CAST({quoted} AS VARCHAR)"
        )
        columns.append(f"CASE WHEN {quoted} IS NULL THEN NULL ELSE {kind} END AS {name}_kind")
        columns.append(f"{text} AS {name}_text")
    return (
        f"SELECT file_row_number AS _seq, true AS _object, {occurred_us} AS occurred_at_us, "
        f"{', '.join(columns)} FROM {source}"
    )


class EventFileImport:
    """One events file on its way into a staging table."""

    def __init__(
        self,
        staged: Staging,
        path: Path,
        report: ParseReport,
        received_at: datetime,
        on_bytes: Callable[[int], None] = lambda _n: None,
    ):
        self.on_bytes = on_bytes
        self.staged = staged
        self.con = staged.store.con
        self.path = path
        self.report = report
        self.params = {"received_at": received_at, "origin": f"file:{path.resolve()}"}

    def stage(self, fields: str) -> tuple[int, list[int]]:
        """Stage every valid row of a fields relation; return (rows seen, `_seq` of the others)."""
        seen = self.staged.append_sql(events_sql(fields), self.params)
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
                rescued.add(event_row(record, naive_is_utc=naive_is_utc))
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
            _, failing = job.stage(_json_fields(view))
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
    path = job.path
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise FileProblem(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FileProblem(f"{path} is a directory, not a file") from None
    with handle:
        carry = b""
        line_number = 1
        first = True
        while True:
            block = handle.read(CHUNK_BYTES)
            job.on_bytes(len(block))
            if first:
                if block.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                    raise FileProblem(
                        f"{path} is UTF-16 text; save it as UTF-8 and import it again"
                    )
                block = block.removeprefix(codecs.BOM_UTF8)
                if block.lstrip()[:1] == b"[":
                    yield from _json_array_chunk(job, block + handle.read())
                    return
                first = False
            data = carry + block
            if not block:
                if data.strip():
                    yield from _split_lines(job, data, line_number)
                return
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data
                continue
            carry = data[cut:]
            chunk = data[:cut]
            yield from _split_lines(job, chunk, line_number)
            line_number += chunk.count(b"\n")


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
            shown = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")
            reason = f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at byte {exc.start + 1}"
            job.report.reject(f"{job.path}:{first_line + index}", shown, reason)
            job.report.seen += 1
            kept.append("")  # a blank line keeps the numbering and is skipped
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
    for seq, raw, record in csv_records(job.path, job.report):
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
        _, failing = job.stage(_text_fields(view, present))
    if failing:
        header = header_seen
        failures = []
        for seq in failing:
            row = next(csv.reader(io.StringIO(raws[seq], newline="")))
            record = {
                name: (value if value != "" else None)
                for name, value in zip(header, row, strict=True)
            }
            failures.append((f"{job.path}:{seq}", raws[seq], record, False))
        job.explain_failures(failures)
    unknown = [name for name in header_seen if name not in KNOWN_FIELDS]
    if unknown:
        job.report.notes.append(f"{job.path}: ignored unknown fields {', '.join(sorted(unknown))}")


def import_parquet(job: EventFileImport) -> None:
    """Parquet: scanned by DuckDB with native types (timestamps without zone are UTC)."""
    source = f"read_parquet({_quote(str(job.path))}, file_row_number = true)"
    try:
        described = job.con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    except Exception as exc:
        if not job.path.exists():
            raise FileProblem(f"{job.path}: no such file") from None
        raise FileProblem(
            f"{job.path} is not a readable Parquet file ({str(exc).splitlines()[0]})"
        ) from None
    types = {row[0]: str(row[1]) for row in described}
    seen, failing = job.stage(_parquet_fields(source, types))
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
) -> None:
    """Stage the good events of one file; rejects and notes go to `report`.

    `on_bytes` hears how much of the file has been read, for a progress bar.
    """
    job = EventFileImport(staged, path, report, received_at, on_bytes)
    if fmt == "ndjson":
        with open_text(path):
            pass  # the same clear messages as other formats for missing or UTF-16 files
        import_ndjson(job)
        if report.seen == 0:
            raise empty_file(path)
    elif fmt == "csv":
        import_csv(job)
        on_bytes(path.stat().st_size)
    else:
        import_parquet(job)
        on_bytes(path.stat().st_size)
