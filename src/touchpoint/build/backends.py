"""The backends stages run on, declared once: how a stage's result is kept.

Stage code never asks which backend it is on. DuckDB keeps each result as a
table in the snapshot file being built; Spark keeps a checkpointed temporary view.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pyarrow as pa

# The Spark SQL functions the stages call by name (stages.record_fields), as DuckDB
# macros: the one place where the two engines' SQL differs.
SQL_FUNCTIONS = (
    "get_json_object(doc, path) AS json_extract_string(doc, path)",
    "timestamp_micros(us) AS make_timestamp(us)",
    "to_utc_timestamp(local, zone) AS timezone('UTC', timezone(zone, local))",
)


class DuckDBBackend:
    """Stages over the store's raw tables, results written into the attached `snap` file."""

    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection, database: str = "snap"):
        self.con = con
        self.database = database
        for function in SQL_FUNCTIONS:
            con.execute(f"CREATE OR REPLACE TEMP MACRO {function}")
        self.ibis = ibis.duckdb.from_connection(con)

    def raw(self, name: str) -> ir.Table:
        return self.ibis.table(name)

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        return self.ibis.create_table(name, expr, database=(self.database, "main"), overwrite=True)

    def count(self, table: ir.Table) -> int:
        return int(self.ibis.execute(table.count()))

    def drop(self, name: str) -> None:
        self.con.execute(f'DROP TABLE IF EXISTS {self.database}.main."{name}"')


class SparkBackend:
    """Stages on a Spark session (local or a cluster), through Ibis's PySpark backend."""

    name = "spark"

    def __init__(self, session: Any):
        self.session = session
        self.ibis = ibis.pyspark.connect(session)

    def load(self, name: str, rows: pa.Table) -> ir.Table:
        """Register Arrow rows as a temporary view (Arrow keeps nulls as nulls)."""
        frame = self.session.createDataFrame(rows)
        frame.createOrReplaceTempView(name)
        return self.ibis.table(name)

    def read_parquet(self, name: str, path: Path) -> ir.Table:
        """Register Parquet files (written by the store) as a temporary view."""
        self.session.read.parquet(str(path)).createOrReplaceTempView(name)
        return self.ibis.table(name)

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        self.ibis.create_view(name, expr, overwrite=True)
        # Computed once, and later stages see its rows, not its plan: views defined over
        # views make Spark re-analyse every earlier stage each time, which outgrows the
        # driver's memory on a long pipeline.
        frame = self.session.table(f"`{name}`").localCheckpoint()
        frame.createOrReplaceTempView(name)
        return self.ibis.table(name)

    def count(self, table: ir.Table) -> int:
        return int(self.ibis.execute(table.count()))

    def drop(self, name: str) -> None:
        """Forget a stage result no later stage reads."""
        self.session.catalog.dropTempView(name)
