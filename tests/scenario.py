"""Scenario tables kept as data files: titled cases of input rows and expected rows.

A case (in `tests/scenarios/*.toml`) gives events and Salesforce Task files as
CSV text, optional settings, and for any result table the rows expected, with
only the columns that matter to it. Files are written out and go through the
real importers; the build runs on DuckDB, or on Spark from the same raw tables.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from touchpoint.build import build
from touchpoint.config import Settings, load_settings
from touchpoint.importers import import_calls, import_events
from touchpoint.store import open_snapshot

SCENARIOS = Path(__file__).parent / "scenarios"
TABLES = ("events", "sessions", "calls", "touchpoints")


@dataclass
class Case:
    file: str
    title: str
    events: list[str]
    tasks: list[str]
    settings: dict[str, Any]
    expect: dict[str, str]
    rules: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.file}: {self.title}"


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def load_cases(*names: str) -> list[Case]:
    """Every case of the named scenario files (all of them when none are named)."""
    files = [SCENARIOS / f"{name}.toml" for name in names] or sorted(SCENARIOS.glob("*.toml"))
    cases = []
    for path in files:
        document = tomllib.loads(path.read_text())
        for raw in document["case"]:
            cases.append(
                Case(
                    file=path.stem,
                    title=raw["title"],
                    events=_as_list(raw.get("events")),
                    tasks=_as_list(raw.get("tasks")),
                    settings=raw.get("settings", {}),
                    expect=raw.get("expect", {}),
                    rules=raw.get("rules"),
                )
            )
    return cases


def parse_table(text: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV block (cells trimmed)."""
    import csv
    import io

    rows = [row for row in csv.reader(io.StringIO(text.strip())) if row]
    header = [name.strip() for name in rows[0]]
    return header, [[cell.strip() for cell in row] for row in rows[1:]]


def write_inputs(case: Case, directory: Path) -> tuple[list[Path], list[Path]]:
    """The case's events and Task files written as real CSV files."""
    directory.mkdir(parents=True, exist_ok=True)
    events, tasks = [], []
    for index, text in enumerate(case.events):
        path = directory / f"events-{index}.csv"
        path.write_text(text.strip() + "\n")
        events.append(path)
    for index, text in enumerate(case.tasks):
        path = directory / f"tasks-{index}.csv"
        path.write_text(text.strip() + "\n")
        tasks.append(path)
    return events, tasks


def case_settings(case: Case, directory: Path) -> Settings:
    overrides = dict(case.settings)
    if case.rules:
        directory.mkdir(parents=True, exist_ok=True)
        rules = directory / "rules.csv"
        rules.write_text(case.rules.strip() + "\n")
        channels = dict(overrides.get("channels", {}))
        channels["rules"] = str(rules)
        overrides["channels"] = channels
    return load_settings(None, db=directory / "touchpoint.duckdb", **overrides)


def import_case(case: Case, directory: Path) -> Settings:
    """Write the case's files and import them into a fresh store."""
    settings = case_settings(case, directory)
    events, tasks = write_inputs(case, directory / "input")
    if events:
        import_events(settings, events)
    for path in tasks:  # one import per file, in the order given
        import_calls(settings, [path], "salesforce-csv")
    return settings


def normalise(value: Any) -> Any:
    """Values as a CSV export shows them, so expectations read the same on every backend."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        text = value.strftime("%Y-%m-%dT%H:%M:%S")
        if value.microsecond:
            text += f".{value.microsecond:06d}"
        return text + "Z"
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def rows_of(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: normalise(v) for k, v in row.items()} for row in table.to_pylist()]


def run_duckdb(case: Case, directory: Path) -> dict[str, list[dict[str, Any]]]:
    """Import, build on DuckDB, and read every result table back."""
    settings = import_case(case, directory)
    build(settings)
    with open_snapshot(settings) as con:
        return {name: rows_of(_arrow(con, f"SELECT * FROM {name}")) for name in TABLES}


def raw_tables(settings: Settings) -> dict[str, pa.Table]:
    """The store's raw tables as Arrow, the input every backend starts from."""
    con = duckdb.connect(str(settings.db), read_only=True)
    try:
        return {name: _arrow(con, f"SELECT * FROM {name}") for name in ("raw_events", "raw_calls")}
    finally:
        con.close()


def _arrow(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    result = con.execute(sql).arrow()
    return result.read_all() if hasattr(result, "read_all") else result


def cell_matches(expected: str, actual: Any) -> bool:
    """Does an expected CSV cell describe this actual value? (empty = null)"""
    if expected == "":
        return actual is None or actual == ""
    if actual is None:
        return False
    if isinstance(actual, bool):
        return expected.lower() == str(actual).lower()
    if isinstance(actual, int | float):
        try:
            return math.isclose(float(expected), float(actual), rel_tol=0, abs_tol=1e-6)
        except ValueError:
            return False
    return expected == str(actual)


def check(case: Case, tables: dict[str, list[dict[str, Any]]]) -> None:
    """Assert that each expected table's rows are exactly the actual rows, on its columns."""
    for name, text in case.expect.items():
        header, expected_rows = parse_table(text)
        actual_rows = tables[name]
        missing = [column for column in header if actual_rows and column not in actual_rows[0]]
        assert not missing, f"{case.id}: {name} has no column {missing}"
        unmatched = [dict(zip(header, row)) for row in expected_rows]
        leftovers = []
        for actual in actual_rows:
            for index, wanted in enumerate(unmatched):
                if all(cell_matches(wanted[c], actual.get(c)) for c in header):
                    unmatched.pop(index)
                    break
            else:
                leftovers.append({c: actual.get(c) for c in header})
        assert not unmatched and not leftovers, (
            f"{case.id}: {name} differs\n  expected but missing: {unmatched}\n"
            f"  present but not expected: {leftovers}"
        )


def _rewrite(text: str, column: str, prefix: str) -> str:
    """A CSV block with a prefix on every non-empty value of one column."""
    import csv
    import io

    header, rows = parse_table(text)
    if column not in header:
        return text
    index = header.index(column)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        if row[index]:
            row[index] = prefix + row[index]
        writer.writerow(row)
    return out.getvalue()


@dataclass
class Batch:
    """Cases with the same settings, run as one world; visitor ids carry a per-case prefix."""

    cases: list[Case]
    combined: Case

    def split(self, tables: dict[str, list[dict[str, Any]]]) -> list[dict[str, list[dict[str, Any]]]]:
        """Each case's own rows, visitor ids without their prefix."""
        out = []
        for index, case in enumerate(self.cases):
            prefix = _prefix(index)
            call_ids = {row[0] for text in case.tasks for row in parse_table(text)[1]}
            own: dict[str, list[dict[str, Any]]] = {}
            for name, rows in tables.items():
                picked = []
                for row in rows:
                    visitor = row.get("visitor_id")
                    mine = (visitor or "").startswith(prefix) or (
                        visitor is None and row.get("call_id") in call_ids
                    )
                    if mine:
                        row = dict(row)
                        for key in ("visitor_id", "person_id"):
                            if row.get(key):
                                row[key] = row[key].removeprefix(prefix)
                        picked.append(row)
                own[name] = picked
            out.append(own)
        return out


def _prefix(index: int) -> str:
    return f"case{index:03d}-"


def batches(cases: list[Case]) -> list[Batch]:
    """Cases grouped by settings and rules, each group combined into one case."""
    import json

    groups: dict[str, list[Case]] = {}
    for case in cases:
        key = json.dumps(case.settings, sort_keys=True) + "\n" + (case.rules or "")
        groups.setdefault(key, []).append(case)
    out = []
    for group in groups.values():
        events, tasks_by_turn = [], []
        for index, case in enumerate(group):
            prefix = _prefix(index)
            events += [_rewrite(text, "visitor_id", prefix) for text in case.events]
            for turn, text in enumerate(case.tasks):
                while len(tasks_by_turn) <= turn:
                    tasks_by_turn.append([])
                tasks_by_turn[turn].append(_rewrite(text, "bizible2__BizibleId__c", prefix))
        combined = Case(
            file="batch",
            title=f"{len(group)} cases",
            events=events,
            tasks=[text for turn in tasks_by_turn for text in turn],
            settings=group[0].settings,
            expect={},
            rules=group[0].rules,
        )
        out.append(Batch(group, combined))
    return out


def run_spark(case: Case, directory: Path, session: Any) -> dict[str, list[dict[str, Any]]]:
    """Import into a store as usual, then run every stage on Spark from its raw tables."""
    from touchpoint.backends import SparkBackend
    from touchpoint.params import BuildParams
    from touchpoint.pipeline import run_stages

    settings = import_case(case, directory)
    raw = raw_tables(settings)
    backend = SparkBackend(session)
    prefix = f"t{abs(hash(str(directory))) % 10**8}_"
    events = backend.load(prefix + "raw_events", raw["raw_events"])
    calls = backend.load(prefix + "raw_calls", raw["raw_calls"])
    results, _ = run_stages(backend, events, calls, BuildParams.from_settings(settings))
    return {name: rows_of(backend.ibis.to_pyarrow(results[name])) for name in TABLES}
