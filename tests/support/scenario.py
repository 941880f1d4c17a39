"""Scenario tables kept as data files: titled cases of input rows and expected rows.

A case (in `tests/scenarios/*.toml`) gives events, Salesforce Task and CRM
export files (`leads`, `contacts`, `opportunities`, `contact_roles`,
`campaign_members`) as CSV text, optional settings, and for any result table
the rows expected, with only the columns that matter to it. Expected
`attribution` rows may name `touchpoint_date` and `touchpoint_type` (looked up
from the touchpoint), and cover only the models they mention. Files are
written out and go through the real importers; the build runs on DuckDB, or
on Spark from the same raw tables.
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

from support import scenario_vendors
from support.paths import SCENARIOS
from touchpoint.build.build import build
from touchpoint.config import Settings, load_settings
from touchpoint.importers import import_calls, import_crm, import_events
from touchpoint.store import open_snapshot

TABLES = ("events", "sessions", "calls", "touchpoints", "attribution")
# Case keys holding CRM exports → `import crm --kind`.
CRM_KINDS = {
    "leads": "leads",
    "contacts": "contacts",
    "opportunities": "opportunities",
    "contact_roles": "contact-roles",
    "campaign_members": "campaign-members",
}
RAW_INPUTS = (
    "raw_events",
    "raw_calls",
    *(f"raw_{key}" for key in CRM_KINDS),
    "raw_number_assignments",  # DESIGN §15: what `POST /numbers` gave
)


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
    crm: dict[str, str] = field(default_factory=dict)
    calls: list[dict[str, str]] = field(default_factory=list)  # vendor files: scenario_vendors

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
                    crm={key: raw[key] for key in CRM_KINDS if key in raw},
                    calls=list(raw.get("calls", [])),
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
    for path, fmt in scenario_vendors.write_calls(case.calls, directory / "input"):
        import_calls(settings, [path], fmt)
    for key, text in case.crm.items():
        path = directory / "input" / f"{key}.csv"
        path.write_text(text.strip() + "\n")
        import_crm(settings, [path], CRM_KINDS[key])
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
    if isinstance(value, float):
        # Sums may differ in the last bits between backends; expectations use 1e-6.
        return None if math.isnan(value) else round(value, 9)
    return value


def rows_of(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: normalise(v) for k, v in row.items()} for row in table.to_pylist()]


def run_duckdb(case: Case, directory: Path) -> dict[str, list[dict[str, Any]]]:
    """Import, build on DuckDB, and read every result table back."""
    settings = import_case(case, directory)
    build(settings)
    with open_snapshot(settings) as con:
        tables = {name: rows_of(arrow_of(con, f"SELECT * FROM {name}")) for name in TABLES}
    return with_touchpoint_facts(tables)


def with_touchpoint_facts(
    tables: dict[str, list[dict[str, Any]]],
) -> dict[str, list[dict[str, Any]]]:
    """Attribution rows with their touchpoint's date and type, so expectations can name them."""
    touches = {row["touchpoint_id"]: row for row in tables["touchpoints"]}
    for row in tables["attribution"]:
        touch = touches.get(row["touchpoint_id"], {})
        row["touchpoint_date"] = touch.get("touchpoint_date")
        row["touchpoint_type"] = touch.get("touchpoint_type")
    return tables


def raw_tables(settings: Settings) -> dict[str, pa.Table]:
    """The store's raw tables as Arrow, the input every backend starts from."""
    con = duckdb.connect(str(settings.db), read_only=True)
    try:
        return {name: arrow_of(con, f"SELECT * FROM {name}") for name in RAW_INPUTS}
    finally:
        con.close()


def arrow_of(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
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
        if "model" in header:  # only the models the case is about
            models = {row[header.index("model")] for row in expected_rows}
            actual_rows = [row for row in actual_rows if row.get("model") in models]
        missing = [column for column in header if actual_rows and column not in actual_rows[0]]
        assert not missing, f"{case.id}: {name} has no column {missing}"
        unmatched = [dict(zip(header, row, strict=True)) for row in expected_rows]
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

    def split(
        self, tables: dict[str, list[dict[str, Any]]]
    ) -> list[dict[str, list[dict[str, Any]]]]:
        """Each case's own rows, visitor ids (and ids made from them) without their prefix.

        A row is a case's when its visitor, person or conversion id has the case's
        prefix or names one of its CRM records, a visitor-less row's call is the case's,
        or its touchpoint is (attribution rows of a conversion known only by a phone).
        """
        out = []
        for owner in self._owners(tables):
            prefix = owner[0]
            own: dict[str, list[dict[str, Any]]] = {}
            for name, rows in tables.items():
                picked = []
                for row in rows:
                    if _owns(owner, row):
                        row = dict(row)
                        for key in ("visitor_id", "person_id", "conversion_id"):
                            if row.get(key):
                                row[key] = row[key].removeprefix(prefix)
                        picked.append(row)
                own[name] = picked
            out.append(own)
        return out

    def unowned(self, tables: dict[str, list[dict[str, Any]]]) -> list[tuple[str, dict]]:
        """(table, row) of every row `split` gives to no case or to more than one."""
        owners = self._owners(tables)
        return [
            (name, row)
            for name, rows in tables.items()
            for row in rows
            if sum(_owns(owner, row) for owner in owners) != 1
        ]

    def _owners(self, tables: dict[str, list[dict[str, Any]]]) -> list[_Owner]:
        """Each case's visitor-id prefix, call ids, CRM ids and touchpoint ids."""
        owners = []
        for index, case in enumerate(self.cases):
            prefix = _prefix(index)
            call_ids = {row[0] for text in case.tasks for row in parse_table(text)[1]}
            if case.calls:
                settings = load_settings(None, **case.settings)
                call_ids |= scenario_vendors.call_ids(case.calls, settings)
            crm_ids = _crm_ids(case)
            touches = {
                row["touchpoint_id"]
                for row in tables.get("touchpoints", [])
                if _belongs(row, prefix, call_ids, crm_ids)
            }
            owners.append((prefix, call_ids, crm_ids, touches))
        return owners


_Owner = tuple[str, set[str], set[str], set[str]]


def _owns(owner: _Owner, row: dict[str, Any]) -> bool:
    prefix, call_ids, crm_ids, touches = owner
    return _belongs(row, prefix, call_ids, crm_ids) or row.get("touchpoint_id") in touches


def _belongs(row: dict[str, Any], prefix: str, call_ids: set[str], crm_ids: set[str]) -> bool:
    for key in ("visitor_id", "person_id", "conversion_id"):
        value = row.get(key) or ""
        if value.startswith(prefix) or value.removeprefix("sf:") in crm_ids:
            return True
    return row.get("visitor_id") is None and row.get("call_id") in call_ids


def _crm_ids(case: Case) -> set[str]:
    """Every Salesforce id a case's CRM files name (18-character form)."""
    from touchpoint.sources.salesforce.fields import salesforce_id18

    ids = set()
    for text in case.crm.values():
        header, rows = parse_table(text)
        for row in rows:
            for column, value in zip(header, row, strict=False):
                if column.endswith("Id") and value:
                    ids.add(salesforce_id18(value))
    return ids


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
        events, tasks_by_turn, calls_by_turn = [], [], []
        crm: dict[str, list[str]] = {}
        seen_ids: dict[str, str] = {}
        for index, case in enumerate(group):
            prefix = _prefix(index)
            for crm_id in _crm_ids(case):
                other = seen_ids.setdefault(crm_id, case.title)
                assert other == case.title, (
                    f"CRM id {crm_id} is in two cases: {other!r}, {case.title!r}"
                )
            for key, text in case.crm.items():
                crm.setdefault(key, []).append(_rewrite(text, "Email", prefix))
            events += [
                _rewrite(_rewrite(text, "visitor_id", prefix), "email", prefix)
                for text in case.events
            ]
            for turn, text in enumerate(case.tasks):
                while len(tasks_by_turn) <= turn:
                    tasks_by_turn.append([])
                tasks_by_turn[turn].append(_rewrite(text, "bizible2__BizibleId__c", prefix))
            if case.calls:
                visitors = scenario_vendors.visitor_ids(
                    case.calls, load_settings(None, **case.settings)
                )
                for turn, item in enumerate(case.calls):
                    while len(calls_by_turn) <= turn:
                        calls_by_turn.append([])
                    calls_by_turn[turn].append(scenario_vendors.prefixed(item, visitors, prefix))
        combined = Case(
            file="batch",
            title=f"{len(group)} cases",
            events=events,
            tasks=[text for turn in tasks_by_turn for text in turn],
            calls=[item for turn in calls_by_turn for item in turn],
            settings=group[0].settings,
            expect={},
            rules=group[0].rules,
            crm={key: _concat_csv(texts) for key, texts in crm.items()},
        )
        out.append(Batch(group, combined))
    return out


def _concat_csv(texts: list[str]) -> str:
    """CSV blocks with different headers as one block with the union of their columns."""
    import csv
    import io

    tables = [parse_table(text) for text in texts]
    columns: list[str] = []
    for header, _ in tables:
        columns += [name for name in header if name not in columns]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for header, rows in tables:
        for row in rows:
            values = dict(zip(header, row, strict=False))
            writer.writerow([values.get(name, "") for name in columns])
    return out.getvalue()


def run_spark(case: Case, directory: Path, session: Any) -> dict[str, list[dict[str, Any]]]:
    """Import into a store as usual, then run every stage on Spark from its raw tables."""
    return with_touchpoint_facts(spark_tables(import_case(case, directory), session))


def spark_tables(
    settings: Settings, session: Any, names: tuple[str, ...] = TABLES
) -> dict[str, list[dict[str, Any]]]:
    """Run every stage on Spark from the store's raw tables and read back the tables `names`."""
    from touchpoint.build.backends import SparkBackend
    from touchpoint.stages.params import BuildParams
    from touchpoint.stages.pipeline import run_stages

    raw = raw_tables(settings)
    backend = SparkBackend(session)
    prefix = f"t{abs(hash(str(settings.db))) % 10**8}_"
    events = backend.load(prefix + "raw_events", raw["raw_events"])
    calls = backend.load(prefix + "raw_calls", raw["raw_calls"])
    crm = {name: backend.load(prefix + name, raw[name]) for name in RAW_INPUTS[2:-1]}
    assignments = backend.load(prefix + "raw_number_assignments", raw["raw_number_assignments"])
    results, _ = run_stages(
        backend,
        events,
        calls,
        BuildParams.from_settings(settings),
        raw_crm=crm,
        number_assignments=assignments,
    )
    return {name: rows_of(backend.ibis.to_pyarrow(results[name])) for name in names}
