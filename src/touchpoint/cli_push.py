"""`touchpoint push DESTINATION` (DESIGN §13, §14): parse, call the destination's push, print;
and `export conversions --destination D` (`with_conversions`).

Registered by cli.py. The destinations are `touchpoint.destinations.DESTINATIONS`.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn
from rich.table import Table

from touchpoint import console
from touchpoint.cli_group import JsonFlag, command_context
from touchpoint.destinations import DESTINATIONS, Destination, PushResult
from touchpoint.errors import TouchpointError
from touchpoint.report.safe_text import cell, markup

COUNTS = ("records", "upserted", "created", "updated", "unchanged", "deleted", "rejected")
EXAMPLE_FIELDS = 6


def push_command(
    ctx: typer.Context,
    destination: Annotated[
        str, typer.Argument(help=f"Where to: {', '.join(d.name for d in DESTINATIONS)}.")
    ],
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show what would be written and deleted; send nothing."),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only what happened on or after this day (YYYY-MM-DD, UTC; ad platforms).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Write the latest build's results into another system (a CRM, an ad platform)."""
    chosen = _destination(destination)
    c = command_context(ctx)
    settings = c.settings()
    start = _day(since)
    if start is not None and chosen.push_since is None:
        raise TouchpointError(f"push {chosen.name} takes no --since: it sends the whole build")
    with _progress(quiet=c.quiet or as_json or dry_run) as on_batch:
        if chosen.push_since is not None:
            result = chosen.push_since(settings, dry_run=dry_run, progress=on_batch, since=start)
        else:
            result = chosen.push(settings, dry_run=dry_run, progress=on_batch)
    print_push(result, quiet=c.quiet, as_json=as_json)


def _destination(name: str | None) -> Destination:
    chosen = {d.name: d for d in DESTINATIONS}.get(name or "")
    if chosen is None:
        known = ", ".join(d.name for d in DESTINATIONS)
        raise TouchpointError(f"unknown destination {name!r}; known: {known}")
    return chosen


def _day(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        raise TouchpointError(f"--since {text!r} is not a day (YYYY-MM-DD)") from None


def with_conversions(export: Callable[..., None]) -> Callable[..., None]:
    """`export conversions --destination D [-o FILE]` beside `export`'s tables (DESIGN §13):
    the command `export` declares, with one more option."""
    signature = inspect.signature(export, eval_str=True)
    option = inspect.Parameter(
        "destination",
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[
            str | None,
            typer.Option(
                "--destination",
                help="With the table conversions: the platform's upload file "
                f"({', '.join(d.name for d in DESTINATIONS if d.export)}).",
            ),
        ],
    )

    @functools.wraps(export)
    def run(**values: Any) -> None:
        destination = values.pop("destination")
        if values.get("table") != "conversions":
            if destination is not None:
                raise TouchpointError("--destination goes with export conversions")
            export(**values)
            return
        export_conversions(values["ctx"], destination, values.get("output"))

    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), option]
    )
    run.__annotations__ = {p.name: p.annotation for p in run.__signature__.parameters.values()}  # type: ignore[attr-defined]
    return run


def export_conversions(ctx: typer.Context, destination: str | None, output: Path | None) -> None:
    if destination is None:
        raise TouchpointError("export conversions needs --destination (e.g. google-ads)")
    chosen = _destination(destination)
    if chosen.export is None:
        raise TouchpointError(f"{chosen.name} takes no upload file")
    c = command_context(ctx)
    exported = chosen.export(c.settings(), None)
    if output is None:
        sys.stdout.write(exported.text)
    else:
        output.write_text(exported.text, encoding="utf-8")
    if not c.quiet:
        if output is not None:
            console.note(f"wrote {exported.rows:,} conversions to {output}")
        for note in exported.notes:
            console.note(f"  {note}")


@contextlib.contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A bar per object while its records are sent."""
    if quiet:
        yield lambda _object, _done, _total: None
        return
    columns = (SpinnerColumn(), TextColumn("pushing {task.description}"), BarColumn())
    with Progress(*columns, MofNCompleteColumn(), console=console.err, transient=True) as bars:
        shown: dict[str, TaskID] = {}

        def on_batch(name: str, done: int, total: int) -> None:
            if name not in shown:
                shown[name] = bars.add_task(markup(name), total=total)
            bars.update(shown[name], completed=done, total=max(total, done))

        yield on_batch


def push_json(result: PushResult) -> str:
    return json.dumps(
        {
            "destination": result.destination,
            "target": result.target,
            "dry_run": result.dry_run,
            "stopped": result.stopped,
            "api_usage": None
            if result.api_used is None
            else {"used": result.api_used, "total": result.api_total},
            "seconds": round(result.seconds, 3),
            "notes": result.notes,
            "objects": [
                {
                    "object": o.name,
                    **{count: getattr(o, count) for count in COUNTS},
                    "to_upsert": o.to_upsert,
                    "to_delete": o.to_delete,
                    **({"examples": o.examples} if result.dry_run else {}),
                }
                for o in result.objects
            ],
            "rejects": [{"source": s, "reason": r} for s, r in result.rejects],
        },
        default=str,
    )


def print_push(result: PushResult, quiet: bool, as_json: bool) -> None:
    if as_json:
        console.print_json(push_json(result))
    if quiet:
        return
    if result.stopped:
        console.warn(result.stopped)
    if as_json:
        return
    if result.dry_run:
        _print_plan(result)
        return
    where = markup(result.target) if result.target else "Salesforce: nothing to send"
    table = Table(title=f"push to {where}", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("object", overflow="fold")
    for count in COUNTS:
        table.add_column(count, justify="right", no_wrap=True)
    for o in result.objects:
        table.add_row(cell(o.name), *(f"{getattr(o, count):,}" for count in COUNTS))
    console.err.print(table)
    usage = ""
    if result.api_used is not None:
        usage = f"; API usage {result.api_used:,} of {result.api_total:,} today"
    console.note(
        f"upserted {result.total('upserted'):,} records ({result.total('created'):,} created), "
        f"deleted {result.total('deleted'):,}, {result.total('unchanged'):,} unchanged, "
        f"{result.total('rejected'):,} rejected in {result.seconds:.1f}s{usage}"
    )
    _print_notes(result)


def _print_plan(result: PushResult) -> None:
    table = Table(title="dry run: nothing sent", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("object", overflow="fold")
    for column in ("records", "would upsert", "unchanged", "would delete", "rejected"):
        table.add_column(column, justify="right", no_wrap=True)
    for o in result.objects:
        table.add_row(
            cell(o.name),
            *(f"{n:,}" for n in (o.records, o.to_upsert, o.unchanged, o.to_delete, o.rejected)),
        )
    console.err.print(table)
    for o in result.objects:
        if not o.examples:
            continue
        fields = [name for name in o.examples[0] if name != "external_id"][:EXAMPLE_FIELDS]
        examples = Table(
            title=f"{markup(o.name)}: the first records it would write", title_justify="left"
        )
        for name in fields:
            examples.add_column(cell(name))
        for example in o.examples:
            examples.add_row(*(cell(_shown(example.get(name))) for name in fields))
        console.err.print(examples)
    _print_notes(result)


def _print_notes(result: PushResult) -> None:
    for note in result.notes:
        console.note(f"  {note}")
    for source, reason in result.rejects:
        console.note(f"  rejected {source}: {reason}")
    if result.total("rejected") and not result.dry_run:
        console.note("  every reject is kept: touchpoint export rejects")


def _shown(value: object) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return "" if value is None else str(value)
