"""What `touchpoint erase` says it did: a table of rows per table, the files it rewrote."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from touchpoint.privacy.erase import Erasure


def print_erasure(erasure: Erasure, out: Console, err: Console, quiet: bool, as_json: bool) -> None:
    """The summary on stderr (the JSON form on stdout), never the identifiers themselves."""
    if as_json:
        out.print_json(json.dumps(erasure.summary()))
        return
    if quiet:
        return
    verb = "that would go" if erasure.dry_run else "removed"
    found = erasure.summary()["identifiers"]
    assert isinstance(found, dict)
    err.print(
        "the person: "
        + ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in found.items()),
        highlight=False,
    )
    table = Table()
    table.add_column("table")
    table.add_column(f"rows {verb}", justify="right")
    for name, count in sorted(erasure.rows.items()):
        table.add_row(name, f"{count:,}")
    if not erasure.rows:
        table.add_row("(none)", "0")
    err.print(table)
    segments = erasure.segments
    lines = [
        f"intake log: {segments.records:,} records {verb}, from {len(segments.rewritten)} segments",
        *(f"  {path}" for path in segments.rewritten),
    ]
    for path in segments.held_open:
        lines.append(
            f"  {path} is held open by a running server: its records of this person are "
            "dropped when a build loads it (suppression list)"
        )
    if erasure.dry_run:
        lines.append(
            f"snapshots that would be replaced by a new build: {len(erasure.snapshots_removed)}"
        )
    else:
        lines.append(f"suppression list: {erasure.suppressed} new entries")
        lines += [f"written without the person: {path}" for path in erasure.files]
        lines.append(f"snapshots removed: {len(erasure.snapshots_removed)}")
        if erasure.build_id:
            lines.append(f"rebuilt: {erasure.build_id}")
        if erasure.build_error:
            lines.append(f"the rebuild failed ({erasure.build_error}): run touchpoint build")
    for line in lines:
        err.print(line, highlight=False, markup=False)
