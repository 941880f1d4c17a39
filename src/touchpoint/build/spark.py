"""`touchpoint build --engine spark`: the same stages on a Spark session.

The store stays the single home of raw records and the snapshot stays what
readers open; only the computing moves. Raw tables are written as Parquet to a
staging directory Spark can read (on a cluster: shared storage, `[spark]
staging_dir`), every stage runs on Spark through Ibis, and the results stream
back into the snapshot being built, which is then published like any other.

pyspark is imported here only, inside the command that needs it.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from touchpoint.build.backends import SparkBackend
from touchpoint.build.phones import lookup_sql
from touchpoint.config import Settings
from touchpoint.errors import TouchpointError
from touchpoint.schema import CRM_TABLES
from touchpoint.stages.params import BuildParams
from touchpoint.stages.pipeline import PUBLISHED_TABLES, StageInfo, run_stages
from touchpoint.store import Store


def spark_session(master: str, partitions: int = 8, app_name: str = "touchpoint") -> Any:
    """A quiet Spark session in UTC (local when `master` is `local[N]`)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise TouchpointError(
            "Spark builds need pyspark: pip install 'touchpoint[spark]' (and Java 17)"
        ) from None
    session = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def naive_utc(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Timestamps as the store keeps them: UTC without a zone."""
    columns = []
    for column in batch.columns:
        if pa.types.is_timestamp(column.type) and column.type.tz is not None:
            column = column.cast(pa.timestamp("us", "UTC")).cast(pa.timestamp("us"))
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _naive_reader(reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
    schema = naive_utc(pa.RecordBatch.from_pylist([], schema=reader.schema)).schema

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            yield naive_utc(batch)

    return pa.RecordBatchReader.from_batches(schema, batches())


def build_on_spark(
    store: Store,
    settings: Settings,
    params: BuildParams,
    master: str,
    on_stage: Callable[[str], None],
) -> list[StageInfo]:
    """Run every stage on Spark and write the results into the attached `snap` database."""
    raw_names = ("raw_events", "raw_calls", *CRM_TABLES.values(), "raw_number_assignments")
    root = settings.spark.staging_dir or None
    with tempfile.TemporaryDirectory(prefix="touchpoint-spark-", dir=root) as scratch:
        staging = Path(scratch)
        for name in raw_names:
            target = str(staging / f"{name}.parquet").replace("'", "''")
            store.con.execute(f"COPY {name} TO '{target}' (FORMAT parquet)")
        lookup = str(staging / "phone_numbers.parquet").replace("'", "''")
        region = settings.phone.default_region
        store.con.execute(f"COPY ({lookup_sql(region)}) TO '{lookup}' (FORMAT parquet)")
        backend = SparkBackend(spark_session(master, settings.spark.shuffle_partitions))
        prefix = f"tp_{uuid.uuid4().hex[:8]}_"
        raw = {
            name: backend.read_parquet(prefix + name, staging / f"{name}.parquet")
            for name in raw_names
        }
        results, stages = run_stages(
            backend,
            raw["raw_events"],
            raw["raw_calls"],
            params,
            on_stage,
            raw_crm={name: raw[name] for name in CRM_TABLES.values()},
            phone_numbers=backend.read_parquet(
                prefix + "phone_numbers", staging / "phone_numbers.parquet"
            ),
            number_assignments=raw["raw_number_assignments"],
        )
        on_stage("collect results")
        for name in PUBLISHED_TABLES:
            reader = _naive_reader(backend.ibis.to_pyarrow_batches(results[name]))
            with store.registered(reader) as view:
                store.con.execute(f'CREATE TABLE snap.main."{name}" AS SELECT * FROM {view}')
    return stages
