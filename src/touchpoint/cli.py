"""The command line (DESIGN §6): parse, load settings, call the library, print.

Exit 0 on success, 1 on a data or runtime error (one line on stderr), 2 on a
usage error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from touchpoint import console
from touchpoint.config import Settings, load_settings
from touchpoint.errors import TouchpointError

app = typer.Typer(
    name="touchpoint",
    help="Bind inbound phone calls to the web sessions that produced them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
import_app = typer.Typer(help="Import records from files.", no_args_is_help=True)
explain_app = typer.Typer(help="Explain results in plain words.", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(explain_app, name="explain")


class Context:
    def __init__(self, db: Path | None, config: Path | None, quiet: bool):
        self.db = db
        self.config = config
        self.quiet = quiet

    def settings(self) -> Settings:
        return load_settings(self.config, db=self.db)


def _ctx(ctx: typer.Context) -> Context:
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        Path | None,
        typer.Option("--db", help="The DuckDB store [env TOUCHPOINT_DB; default ./touchpoint.duckdb]."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Settings file [default ./touchpoint.toml].")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
) -> None:
    ctx.obj = Context(db, config, quiet)


JsonFlag = Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")]
StrictFlag = Annotated[
    bool, typer.Option("--strict", help="Import nothing if any record is rejected.")
]
Paths = Annotated[list[Path], typer.Argument(help="Files to import.", show_default=False)]


@import_app.command("events")
def import_events_command(
    ctx: typer.Context,
    paths: Paths,
    fmt: Annotated[
        str | None, typer.Option("--format", help="ndjson, jsonl, csv or parquet [default: by extension].")
    ] = None,
    strict: StrictFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Import web events (NDJSON, CSV or Parquet)."""
    from touchpoint.importers import import_events

    c = _ctx(ctx)
    with console.working(f"importing {len(paths)} events file(s)", quiet=c.quiet or as_json):
        result = import_events(c.settings(), paths, fmt, strict)
    console.import_summary(result, quiet=c.quiet, as_json=as_json)
    if result.failed:
        raise typer.Exit(1)


@import_app.command("calls")
def import_calls_command(
    ctx: typer.Context,
    paths: Paths,
    fmt: Annotated[
        str, typer.Option("--format", help="salesforce-csv or salesforce-json.", show_default=False)
    ],
    strict: StrictFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Import call records."""
    from touchpoint.importers import import_calls

    c = _ctx(ctx)
    with console.working(f"importing {len(paths)} calls file(s)", quiet=c.quiet or as_json):
        result = import_calls(c.settings(), paths, fmt, strict)
    console.import_summary(result, quiet=c.quiet, as_json=as_json)
    if result.failed:
        raise typer.Exit(1)


@app.command("build")
def build_command(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Run every stage and publish the results atomically."""
    from touchpoint.build import build

    c = _ctx(ctx)
    with console.stage_progress(quiet=c.quiet or as_json) as on_stage:
        result = build(c.settings(), on_stage)
    console.build_summary(result, quiet=c.quiet, as_json=as_json)


@app.command("export")
def export_command(
    ctx: typer.Context,
    table: Annotated[
        str,
        typer.Argument(help="events, sessions, touchpoints, calls, attribution or rejects."),
    ],
    fmt: Annotated[str, typer.Option("--format", help="csv, json or parquet.")] = "csv",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write a result table, values verbatim."""
    from touchpoint.export import export_table

    c = _ctx(ctx)
    rows = export_table(c.settings(), table, fmt, output)
    if output is not None and not c.quiet:
        console.note(f"wrote {rows:,} {table} rows to {output}")


@explain_app.command("call")
def explain_call_command(
    ctx: typer.Context,
    call_id: Annotated[str, typer.Argument(metavar="ID", help="The call's id (or its vendor id).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the explanation as JSON.")] = False,
) -> None:
    """Why a call merged with a web session, or why not."""
    from touchpoint.explain import explain_call

    c = _ctx(ctx)
    for explanation in explain_call(c.settings(), call_id):
        typer.echo(explanation.as_json() if as_json else explanation.text)


@app.command("settings")
def settings_command(ctx: typer.Context) -> None:
    """List every setting with its value now and one line of help."""
    console.settings_table(_ctx(ctx).settings())


@app.command("demo")
def demo_command(
    ctx: typer.Context,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Stop after the build and the summary.")
    ] = False,
    visitors: Annotated[int, typer.Option("--visitors", min=10, help="Visitors to simulate.")] = 600,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic world.")] = 7,
) -> None:
    """Run a realistic demo end to end on its own database."""
    from touchpoint.demo import run_demo

    c = _ctx(ctx)
    run_demo(c.db, c.config, visitors=visitors, seed=seed, serve=not no_serve, quiet=c.quiet)


def main() -> None:
    """Entry point: one clear line instead of a traceback for anything that goes wrong."""
    try:
        app(prog_name="touchpoint")
    except TouchpointError as exc:
        console.error(str(exc))
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("TOUCHPOINT_DEBUG"):
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        console.error(
            f"unexpected {type(exc).__name__}: {message} "
            "(set TOUCHPOINT_DEBUG=1 to see where, and please report it)"
        )
        sys.exit(1)
