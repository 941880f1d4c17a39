"""Vendor call files in scenario cases: `calls = [{format = "ctm", text = "..."}, ...]`.

Each item is a file imported with `import calls --format F`, one import per item
in the order given (so a case can put a Task before or after the vendor's record
with `format = "salesforce-csv"`). When cases run together as one world, their
visitor ids get a per-case prefix: in a vendor file that is every JSON string
value or CSV cell equal to one of the case's visitor ids, as the real parsers
find them.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from touchpoint.config import Settings
from touchpoint.schema import RAW_CALLS
from touchpoint.sources.records import ParseReport, RowBatches
from touchpoint.sources.vendors.files import VENDOR_FORMATS, arrival_clock, read_vendor_calls

TASK_VISITOR_COLUMN = "bizible2__BizibleId__c"
JSON_START = ("[", "{")


def suffix(item: dict[str, str]) -> str:
    """The file name ending the importer reads the item's format from."""
    if item.get("name"):
        return Path(item["name"]).suffix
    return ".json" if item["text"].lstrip().startswith(JSON_START) else ".csv"


def write_calls(items: list[dict[str, str]], directory: Path) -> list[tuple[Path, str]]:
    """The case's call files written out, with the format each is imported as."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for index, item in enumerate(items):
        path = directory / f"calls-{index}{suffix(item)}"
        path.write_text(item["text"].strip() + "\n")
        written.append((path, item["format"]))
    return written


def vendor_rows(items: list[dict[str, str]], settings: Settings) -> list[dict[str, Any]]:
    """The raw-calls rows the real parsers make of the case's vendor files."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        clock = arrival_clock(datetime.now(UTC))
        for path, fmt in write_calls(items, Path(folder)):
            if fmt not in VENDOR_FORMATS:
                continue
            batches = RowBatches(RAW_CALLS)
            for table in read_vendor_calls(path, fmt, settings, ParseReport(), batches, clock):
                rows += getattr(table, "rows", table).to_pylist()  # KeptAside: Invoca signals
    return rows


def call_ids(items: list[dict[str, str]], settings: Settings) -> set[str]:
    """Every call id the case's call files hold (vendor ids and Task ids)."""
    found = {row["call_id"] for row in vendor_rows(items, settings)}
    for item in items:
        if item["format"] == "salesforce-csv":
            found |= {row["Id"] for row in csv.DictReader(io.StringIO(item["text"].strip()))}
    return found


def prefixed(item: dict[str, str], visitors: set[str], prefix: str) -> dict[str, str]:
    """The item with each of these visitor ids prefixed wherever it is a whole value."""

    def swap(value: Any) -> Any:
        if isinstance(value, str):
            return prefix + value.strip() if value.strip() in visitors else value
        if isinstance(value, list):
            return [swap(v) for v in value]
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        return value

    content = item["text"].strip()
    if suffix(item) == ".json":
        try:
            return {**item, "text": json.dumps(swap(json.loads(content)))}
        except json.JSONDecodeError:  # one document per line
            lines = [json.dumps(swap(json.loads(line))) for line in content.splitlines() if line]
            return {**item, "text": "\n".join(lines)}
    # A file saved by European Excel is `;`-separated: keep its delimiter.
    delimiter = csv.Sniffer().sniff(content.splitlines()[0], delimiters=",;\t|").delimiter
    rows = list(csv.reader(io.StringIO(content), delimiter=delimiter))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(rows[0])
    for row in rows[1:]:
        writer.writerow([swap(cell) for cell in row])
    return {**item, "text": out.getvalue()}


def visitor_ids(items: list[dict[str, str]], settings: Settings) -> set[str]:
    """The visitor ids the case's call files carry."""
    found = {row["visitor_id"] for row in vendor_rows(items, settings) if row["visitor_id"]}
    for item in items:
        if item["format"] == "salesforce-csv":
            reader = csv.DictReader(io.StringIO(item["text"].strip()))
            found |= {
                row[TASK_VISITOR_COLUMN].strip() for row in reader if row.get(TASK_VISITOR_COLUMN)
            }
    return found
