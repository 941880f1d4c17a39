"""Shared test set-up: a clean working directory per test, a CLI runner, hypothesis profiles."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

# CI runs fewer examples to keep the suite fast; HYPOTHESIS_PROFILE=dev runs more, and
# the properties whose examples each run a build take their counts from
# support.examples.build_examples (tests/README.md). `too_slow` times data generation
# by the wall clock, which a shared CI machine stretches; no strategy here is slow.
hypothesis_settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.register_profile("dev", max_examples=300, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# `[retention]` (DESIGN §16) deletes records by the wall clock, and the suite's fixtures are
# dated 2017-2026 (vendors' published examples among them): the whole run, every command a
# test runs and every fixture of any scope keep records forever. Helpers that clear
# TOUCHPOINT_* variables keep these; the retention tests give their settings explicitly.
RETENTION_OFF = {f"TOUCHPOINT_RETENTION__{k}": "forever" for k in ("EVENTS", "CALLS", "REJECTS")}
os.environ.update(RETENTION_OFF)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory with no TOUCHPOINT_* variables leaking in."""
    for name in list(os.environ):
        if name.startswith("TOUCHPOINT_") and name not in RETENTION_OFF:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_touchpoint(
    directory: Path, *args: str, env: dict[str, str] | None = None, input: str | None = None
) -> CliResult:
    """Run the real `touchpoint` command in `directory`, without TOUCHPOINT_* leaking in."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith("TOUCHPOINT_") or k in RETENTION_OFF
    }
    done = subprocess.run(
        [sys.executable, "-m", "touchpoint", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        env={**clean, "COLUMNS": "200", **(env or {})},
        input=input,
        timeout=300,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def cli(workdir: Path):
    """Run the real `touchpoint` command in the working directory."""

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> CliResult:
        return run_touchpoint(workdir, *args, env=env, input=input)

    return run


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory):
    """One local Spark session for the whole run (skipped where Java or pyspark is missing)."""
    import shutil

    if shutil.which("java") is None:
        pytest.skip("Spark needs Java, which is not installed here")
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        pytest.skip("pyspark is not installed (pip install -e '.[spark]')")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("touchpoint-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def report_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo world plus a hostile visitor, built once for the tests that only read it."""
    from support.report_world import build_world

    return build_world(tmp_path_factory.mktemp("report-world"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every test its own node id: schemathesis names each API operation's test
    `test_x[GET /api/...]` but leaves them one node id, and pytest-xdist schedules by node
    id, so without this two workers would run only one operation of fifteen."""
    counts = Counter(item.nodeid for item in items)
    for item in items:
        if counts[item.nodeid] > 1 and item.parent is not None:
            if hasattr(item, "_id"):  # pytest 9 keeps a structured id
                item._id = item.parent.id.child(item.name)
            else:
                item._nodeid = f"{item.parent.nodeid}::{item.name}"
