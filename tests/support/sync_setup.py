"""What every sync test sets up: a settings file for the local API, and a look in the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb


def write_settings(workdir: Path, section: str, values: dict[str, Any]) -> Path:
    """touchpoint.toml with one `[section]` of these values (None: left out)."""
    lines = [f"[{section}]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in values.items() if value is not None]
    path = workdir / "touchpoint.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def query(workdir: Path, sql: str) -> list[tuple[Any, ...]]:
    """The rows of a query on the working directory's store (read-only)."""
    con = duckdb.connect(str(workdir / "touchpoint.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
