"""What the command line prints: progress while working, then tables a person reads.

Human output goes to stderr, so stdout stays clean for data (`export`,
`--json`). Messages carry text from outside (reject reasons quote the record,
file names, vendor fields): `error`, `note` and `warn` print it through
`report.safe_text`, so control characters show as escapes and Rich markup in it
stays text; JSON goes out with every non-ASCII character escaped.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from touchpoint.config import (
    Origin,
    Settings,
    settings_document,
    settings_in_force,
)
from touchpoint.report.safe_text import cell, markup

if TYPE_CHECKING:
    from touchpoint.build.build import BuildResult
    from touchpoint.importers import ImportResult
    from touchpoint.sync.salesforce import SyncResult
    from touchpoint.sync.vendor_calls import VendorSync

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def error(message: str) -> None:
    """One line on stderr; the message is shown as it is (no Rich markup)."""
    err.print(f"[bold red]error:[/] {markup(message, keep_newlines=True)}", soft_wrap=True)


def note(message: str) -> None:
    err.print(markup(message, keep_newlines=True), soft_wrap=True)


def warn(message: str) -> None:
    err.print(f"[yellow]note:[/] {markup(message, keep_newlines=True)}", soft_wrap=True)


def print_json(document: str) -> None:
    """JSON on stdout, every non-ASCII character escaped (C1 controls and bidi too)."""
    out.print_json(document, ensure_ascii=True)


@contextlib.contextmanager
def byte_progress(description: str, total: int, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A bar across the bytes of the files being read, with the rate and time left."""
    if quiet:
        yield lambda _n: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn(description),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total or None)
        yield lambda count: progress.advance(task, count)


@contextlib.contextmanager
def count_progress(description: str, total: int, quiet: bool) -> Iterator[Callable[[], None]]:
    """A bar across `total` steps of work, with the count done and the time taken."""
    if quiet:
        yield lambda: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn(description),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda: progress.advance(task)


@contextlib.contextmanager
def working(description: str, quiet: bool) -> Iterator[None]:
    """A spinner with the time taken, for work without a known length."""
    if quiet:
        yield
        return
    with Progress(
        SpinnerColumn(), TextColumn(description), TimeElapsedColumn(), console=err, transient=True
    ) as progress:
        progress.add_task(description, total=None)
        yield


@contextlib.contextmanager
def stage_progress(quiet: bool, steps: Sequence[str] = ()) -> Iterator[Callable[[str], None]]:
    """A bar across the build's `steps` (`build.build_steps`); without steps, the stage's name."""
    if quiet:
        yield lambda _n: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("building: {task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("starting", total=len(steps) or None)

        def on_stage(name: str) -> None:
            # A step is reported as it starts: the ones before it are done.
            if name in steps:
                progress.update(task, description=name, completed=steps.index(name))
            else:
                progress.update(task, description=name)

        yield on_stage


@dataclass(frozen=True)
class Bars:
    """The progress bars above as one object, for work that shows several (`touchpoint demo`)."""

    quiet: bool

    def count(
        self, description: str, total: int
    ) -> contextlib.AbstractContextManager[Callable[[], None]]:
        """A bar across `total` steps (`count_progress`)."""
        return count_progress(description, total, self.quiet)

    def working(self, description: str) -> contextlib.AbstractContextManager[None]:
        """A spinner (`working`)."""
        return working(description, self.quiet)

    def stages(
        self, steps: Sequence[str]
    ) -> contextlib.AbstractContextManager[Callable[[str], None]]:
        """A bar across the build's steps (`stage_progress`)."""
        return stage_progress(self.quiet, steps)


def import_summary(result: ImportResult, quiet: bool, as_json: bool) -> None:
    if as_json:
        print_json(
            json.dumps(
                {
                    "kind": result.kind,
                    "read": result.seen,
                    "accepted": result.accepted,
                    "new": result.landed,
                    "already_present": result.already_present,
                    "rejected": result.rejected,
                    "problems": result.problems,
                    "notes": result.notes,
                    "rejects": [
                        {"source": r.source, "reason": r.reason} for r in result.first_rejects
                    ],
                    "skipped": result.skipped.total(),
                    "skipped_reasons": dict(result.skipped.most_common()),
                    "files": [{**f.__dict__, "path": str(f.path)} for f in result.files],
                }
            )
        )
    for problem in result.problems:
        error(problem)
    if quiet:
        return
    for line in result.notes:
        warn(line)
    if as_json:
        return
    if result.seen:
        line = (
            f"{result.kind}: read {result.seen:,}, accepted {result.accepted:,} "
            f"({result.landed:,} new, {result.already_present:,} already present), "
            f"rejected {result.rejected:,}"
        )
        note(line + skipped_line(result.skipped))
    if len(result.files) > 1:
        for file in result.files:
            done = f"read {file.seen:,}, {file.landed:,} new, rejected {file.rejected:,}"
            note(f"  {file.path}: {'nothing imported' if file.problem else done}")
    if result.rejected:
        for reject in result.first_rejects:
            note(f"  rejected {reject.source}: {reject.reason}")
        if result.rejected > len(result.first_rejects):
            note(f"  ... and {result.rejected - len(result.first_rejects):,} more")
        note("  every reject is kept: touchpoint export rejects")
    if result.rejected and result.accepted == 0:
        error(f"every {result.kind.rstrip('s')} record was rejected")


def skipped_line(skipped: Counter[str]) -> str:
    """`, skipped N (reason × count; ...)`, or nothing when nothing was skipped."""
    if not skipped:
        return ""
    shown = skipped.most_common(4)
    reasons = "; ".join(f"{count:,} × {reason}" for reason, count in shown)
    more = "; ..." if len(skipped) > len(shown) else ""
    return f", skipped {skipped.total():,} ({reasons}{more})"


def build_summary(result: BuildResult, quiet: bool, as_json: bool) -> None:
    if as_json:
        print_json(
            json.dumps(
                {
                    "build_id": result.build_id,
                    "nothing_new": result.nothing_new,
                    "seconds": round(result.seconds, 3),
                    "rows": result.rows,
                    "stages": [stage.__dict__ for stage in result.stages],
                }
            )
        )
        return
    if quiet or result.nothing_new:  # DESIGN §17: nothing new, the published build stays
        return None if quiet else note(f"nothing new since the last build ({result.build_id})")
    table = Table(title=f"build {result.build_id}", title_justify="left")
    for column in ("stage", "rows in", "rows out", "seconds", "rows/s"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage in result.stages:
        rate = stage.rows_in / stage.seconds if stage.seconds > 0 else 0
        table.add_row(
            stage.stage,
            f"{stage.rows_in:,}",
            f"{stage.rows_out:,}",
            f"{stage.seconds:.2f}",
            f"{rate:,.0f}",
        )
    err.print(table)
    rows = result.rows
    note(
        f"published in {result.seconds:.1f}s: {rows['events']:,} events, "
        f"{rows['sessions']:,} sessions, {rows['calls']:,} calls, "
        f"{rows['touchpoints']:,} touchpoints"
    )


# -- sync salesforce ----------------------------------------------------------


@contextlib.contextmanager
def sync_progress(quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A bar per Salesforce object while a sync stores its pages."""
    if quiet:
        yield lambda _object, _done, _total: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("syncing {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        bars: dict[str, TaskID] = {}

        def on_page(sobject: str, done: int, total: int) -> None:
            if sobject not in bars:
                bars[sobject] = progress.add_task(sobject, total=total)
            progress.update(bars[sobject], completed=done, total=max(total, done))

        yield on_page


def sync_summary(result: SyncResult, quiet: bool, as_json: bool) -> None:
    """What `sync salesforce` did, per object; a note when it stopped early."""
    if as_json:
        print_json(
            json.dumps(
                {
                    "instance_url": result.instance_url,
                    "read": result.read,
                    "new": result.new,
                    "rejected": result.rejected,
                    "skipped": result.skipped.total(),
                    "stopped": result.stopped,
                    "api_usage": None
                    if result.api_used is None
                    else {"used": result.api_used, "total": result.api_total},
                    "seconds": round(result.seconds, 3),
                    "objects": [
                        {
                            "object": o.sobject,
                            "since": o.since,
                            "watermark": o.watermark,
                            "pages": o.pages,
                            "read": o.read,
                            "new": o.new,
                            "already_present": o.already_present,
                            "rejected": o.rejected,
                            "skipped": o.skipped.total(),
                            "skipped_reasons": dict(o.skipped.most_common()),
                            "rejects": [
                                {"source": r.source, "reason": r.reason} for r in o.first_rejects
                            ],
                        }
                        for o in result.objects
                    ],
                }
            )
        )
    if quiet:
        return
    if result.stopped:
        warn(result.stopped)
    if as_json:
        return
    table = Table(title=f"sync from {result.instance_url}", title_justify="left")
    for column in ("object", "read", "new", "rejected", "skipped", "synced up to"):
        table.add_column(
            column, justify="left" if column in ("object", "synced up to") else "right"
        )
    for o in result.objects:
        table.add_row(
            o.sobject,
            f"{o.read:,}",
            f"{o.new:,}",
            f"{o.rejected:,}",
            f"{o.skipped.total():,}",
            cell(o.watermark or ""),
        )
    err.print(table)
    usage = ""
    if result.api_used is not None:
        usage = f"; API usage {result.api_used:,} of {result.api_total:,} today"
    note(
        f"read {result.read:,} records, {result.new:,} new, {result.rejected:,} rejected"
        f"{skipped_line(result.skipped)} in {result.seconds:.1f}s{usage}"
    )
    for o in result.objects:
        for reject in o.first_rejects:
            note(f"  rejected {reject.source}: {reject.reason}")
    if result.rejected:
        note("  every reject is kept: touchpoint export rejects")


def settings_json(settings: Settings, origins: dict[str, Origin]) -> str:
    """The settings in force as JSON, secrets shown as •••, and where each came from."""
    return json.dumps(settings_document(settings, origins), indent=2, ensure_ascii=False)


def settings_table(settings: Settings, origins: dict[str, Origin]) -> None:
    """Every setting: its value in force, where it came from, its default and its help."""
    table = Table(title="settings (touchpoint.toml, then TOUCHPOINT_* variables, then flags)")
    for column in ("setting", "value", "from", "default", "what it does"):
        table.add_column(column)
    for row in settings_in_force(settings, origins):
        table.add_row(*(cell(value) for value in row))
    out.print(table)


def vendor_sync_summary(result: VendorSync, quiet: bool, as_json: bool) -> None:
    """What `sync callrail` / `sync ctm` did: calls read, new, already there, rejected."""
    if as_json:
        print_json(json.dumps(result.summary()))
    if quiet:
        return
    if result.stopped:
        warn(result.stopped)
    if as_json:
        return
    note(
        f"synced {result.title} in {result.seconds:.1f}s: {result.read:,} records read, "
        f"{result.new:,} new, {result.already_present:,} already present, "
        f"{result.rejected:,} rejected, {result.skipped.total():,} not calls; "
        f"synced up to {result.watermark or 'nothing yet'}"
    )
