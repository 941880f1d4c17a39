"""The command line (DESIGN §6): parse, load settings, call the library, print.

Exit 0 on success, 1 on a data or runtime error (one line on stderr), 2 on a
usage error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer

from touchpoint import console
from touchpoint.cli_group import (
    EPILOG,
    Delimiter,
    Encoding,
    JsonFlag,
    Paths,
    RootGroup,
    StrictFlag,
    command_context,
    dialect_of,
    one_of,
    root,
)
from touchpoint.cli_privacy import erase_command
from touchpoint.cli_push import push_command, with_conversions
from touchpoint.config import settings_markdown
from touchpoint.errors import TouchpointError
from touchpoint.report.safe_text import json_text, visible
from touchpoint.schema import EXPORTABLE_TABLES
from touchpoint.sources.vendors.files import VENDOR_FORMATS

app = typer.Typer(
    name="touchpoint",
    cls=RootGroup,
    help="Bind inbound phone calls to the web sessions that produced them.",
    epilog=EPILOG,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
import_app = typer.Typer(help="Import records from files.", no_args_is_help=True)
explain_app = typer.Typer(help="Explain results in plain words.", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(explain_app, name="explain")
sync_app = typer.Typer(help="Download records from other systems' APIs.", no_args_is_help=True)
app.add_typer(sync_app, name="sync")
app.callback()(root)  # --db, --config, -q and --version (touchpoint.cli_group)


def _run_import(
    ctx: typer.Context, what: str, paths: list[Path], as_json: bool, run: Callable[..., Any]
) -> None:
    """One import with a progress bar by bytes, then its summary; exit 1 when it failed."""
    from touchpoint.importers import total_bytes

    c = command_context(ctx)
    settings = c.settings()
    with console.byte_progress(f"importing {what}", total_bytes(paths), c.quiet or as_json) as step:
        result = run(settings, paths, on_bytes=step)
    console.import_summary(result, quiet=c.quiet, as_json=as_json)
    if result.failed:
        raise typer.Exit(1)


@import_app.command("events")
def import_events_command(
    ctx: typer.Context,
    paths: Paths,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="ndjson, jsonl, csv or parquet [default: by extension]."),
    ] = None,
    strict: StrictFlag = False,
    as_json: JsonFlag = False,
    delimiter: Delimiter = None,
    encoding: Encoding = None,
) -> None:
    """Import web events (NDJSON, CSV or Parquet)."""
    from touchpoint.importers import import_events

    dialect = dialect_of(delimiter, encoding)
    _run_import(
        ctx,
        "events",
        paths,
        as_json,
        partial(import_events, fmt=fmt, strict=strict, dialect=dialect),
    )


@import_app.command("calls")
def import_calls_command(
    ctx: typer.Context,
    paths: Paths,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help=f"{one_of(('salesforce-csv', 'salesforce-json', *VENDOR_FORMATS))}.",
            show_default=False,
        ),
    ],
    strict: StrictFlag = False,
    as_json: JsonFlag = False,
    delimiter: Delimiter = None,
    encoding: Encoding = None,
) -> None:
    """Import call records."""
    from touchpoint.importers import import_calls

    dialect = dialect_of(delimiter, encoding)
    _run_import(
        ctx, "calls", paths, as_json, partial(import_calls, fmt=fmt, strict=strict, dialect=dialect)
    )


@import_app.command("crm")
def import_crm_command(
    ctx: typer.Context,
    paths: Paths,
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            help="leads, contacts, opportunities, contact-roles or campaign-members.",
            show_default=False,
        ),
    ],
    strict: StrictFlag = False,
    as_json: JsonFlag = False,
    delimiter: Delimiter = None,
    encoding: Encoding = None,
) -> None:
    """Import Salesforce CRM exports (CSV with API names)."""
    from touchpoint.importers import import_crm

    dialect = dialect_of(delimiter, encoding)
    _run_import(
        ctx, kind, paths, as_json, partial(import_crm, kind=kind, strict=strict, dialect=dialect)
    )


@app.command("build")
def build_command(
    ctx: typer.Context,
    as_json: JsonFlag = False,
    engine: Annotated[
        str, typer.Option("--engine", help="Where the stages run: duckdb or spark.")
    ] = "duckdb",
    full: Annotated[bool, typer.Option("--full", help="Build even with nothing new.")] = False,
) -> None:
    """Run every stage and publish the results atomically."""
    from touchpoint.build.build import build, build_steps

    c = command_context(ctx)
    with console.stage_progress(c.quiet or as_json, build_steps(engine)) as on_stage:
        result = build(c.settings(), on_stage, engine, full)
    console.build_summary(result, quiet=c.quiet, as_json=as_json)


app.command("erase")(erase_command)  # DESIGN §16, in its own shell: cli_privacy.py
app.command("push")(push_command)  # DESIGN §14, in its own shell: cli_push.py


@sync_app.command("salesforce")
def sync_salesforce_command(
    ctx: typer.Context,
    full: Annotated[
        bool, typer.Option("--full", help="Ignore the watermarks: download every record again.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Download Tasks and CRM records changed since the last sync (Salesforce REST API)."""
    from touchpoint.sync.salesforce import sync_salesforce

    c = command_context(ctx)
    with console.sync_progress(quiet=c.quiet or as_json) as on_page:
        result = sync_salesforce(c.settings(), on_page=on_page, full=full)
    console.sync_summary(result, quiet=c.quiet, as_json=as_json)


@sync_app.command("callrail", help="Download calls started since the last sync (CallRail API v3).")
@sync_app.command("ctm", help="Download calls started since the last sync (CTM API v1).")
def sync_calls_command(
    ctx: typer.Context,
    full: Annotated[bool, typer.Option("--full", help="Ignore the watermark.")] = False,
    as_json: JsonFlag = False,
) -> None:
    from touchpoint.sync.feeds import CALL_FEEDS
    from touchpoint.sync.vendor_calls import sync_calls

    c, feed = command_context(ctx), CALL_FEEDS[str(ctx.info_name)]
    with console.sync_progress(quiet=c.quiet or as_json) as on_page:
        result = sync_calls(c.settings(), feed, on_page=on_page, full=full)
    console.vendor_sync_summary(result, quiet=c.quiet, as_json=as_json)


_EXPORT_FORMAT_HELP = "csv, json or parquet [default: by -o's extension, else csv]."


@app.command("export")
@with_conversions  # DESIGN §13: export conversions --destination D, in cli_push.py
def export_command(
    ctx: typer.Context,
    table: Annotated[str, typer.Argument(help=f"{one_of(EXPORTABLE_TABLES)}.", show_default=False)],
    fmt: Annotated[str | None, typer.Option("--format", help=_EXPORT_FORMAT_HELP)] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write a table (results, CRM records, people, raw imports), values verbatim."""
    from touchpoint.report.export import export_format, export_table

    c = command_context(ctx)
    rows = export_table(c.settings(), table, export_format(fmt, output), output)
    if output is not None and not c.quiet:
        console.note(f"wrote {rows:,} {table} rows to {output}")


@app.command("attribute-paths")
def attribute_paths_command(
    path: Annotated[
        Path,
        typer.Argument(help="CSV path,total_conversions,total_conversion_value,total_null."),
    ],
    models: Annotated[
        str | None,
        typer.Option("--models", help="Comma-separated models [default: all that paths support]."),
    ] = None,
    order: Annotated[int, typer.Option("--order", min=1, max=4, help="Markov model order.")] = 1,
) -> None:
    """Attribute aggregated channel paths; CSV channel,model,conversions,value on stdout."""
    from touchpoint.stages.attribution.paths import attribute_paths_file

    attribute_paths_file(path, models, sys.stdout, order)


@explain_app.command("call")
def explain_call_command(
    ctx: typer.Context,
    call_id: Annotated[str, typer.Argument(metavar="ID", help="The call's id (or its vendor id).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the explanation as JSON.")] = False,
) -> None:
    """Why a call merged with a web session, or why not."""
    from touchpoint.report.explain import explain_call

    c = command_context(ctx)
    for explanation in explain_call(c.settings(), call_id):
        # Its words quote the call's and the session's values: escapes, never terminal codes.
        typer.echo(json_text(explanation.as_json()) if as_json else visible(explanation.text, True))


@app.command("report")
def report_command(
    ctx: typer.Context,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Write the dashboard as one self-contained HTML page here."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Attribution model [default: w_shaped, or u_shaped without opportunities].",
        ),
    ] = None,
    weeks: Annotated[int, typer.Option("--weeks", min=1, max=520, help="Weeks of trend.")] = 12,
    person: Annotated[
        str | None, typer.Option("--person", help="Show this person's journey first (a person_id).")
    ] = None,
    from_day: Annotated[
        str | None,
        typer.Option("--from", help="First day of the figures (YYYY-MM-DD, [site] timezone)."),
    ] = None,
    to_day: Annotated[
        str | None,
        typer.Option("--to", help="Last day of the figures (YYYY-MM-DD, [site] timezone)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Summarise the latest build: tables here, JSON, or one HTML page (--html)."""
    from touchpoint.report.period import Period
    from touchpoint.report.reader import read_report

    c = command_context(ctx)
    settings = c.settings()
    period = Period.of(from_day, to_day)
    report = read_report(settings, model, weeks=weeks, person=person, period=period)
    if html is not None:
        from touchpoint.report.page import write_page

        domains = settings.site.domains
        size = write_page(report, html, site_name=domains[0] if domains else "")
        if not c.quiet and not as_json:
            console.note(f"wrote the dashboard to {html} ({size / 1e6:.1f} MB, works offline)")
    if as_json:
        typer.echo(json_text(report.model_dump_json(indent=2)))
    elif html is None:
        from touchpoint.report.terminal import print_report

        print_report(report, console.out, settings)


@app.command("serve")
def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")
    ] = 8000,
) -> None:
    """Serve the tracking snippet and collect events (never writes the store)."""
    from touchpoint.serve import serve

    c = command_context(ctx)
    serve(c.settings(), host, port, say=console.note)


@app.command("settings")
def settings_command(
    ctx: typer.Context,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the reference table for the docs.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the settings in force as JSON (secrets masked).")
    ] = False,
) -> None:
    """List every setting: its value now, where it came from, its default and its help."""
    if markdown:
        typer.echo(settings_markdown())
        return
    c = command_context(ctx)
    settings, origins = c.settings(), c.origins()
    if as_json:
        typer.echo(console.settings_json(settings, origins))
        return
    console.settings_table(settings, origins)


@app.command("demo")
def demo_command(
    ctx: typer.Context,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Stop after the build and the summary.")
    ] = False,
    visitors: Annotated[
        int, typer.Option("--visitors", min=10, help="Visitors to simulate.")
    ] = 600,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic world.")] = 7,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port the dashboard is served on.")
    ] = 8000,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the demo's score as JSON (implies --no-serve).")
    ] = False,
) -> None:
    """Run a realistic demo end to end on its own database, then serve its dashboard."""
    from touchpoint.demo.run import run_demo
    from touchpoint.demo.summary import print_summary

    c = command_context(ctx)
    quiet, serving = c.quiet or as_json, not (no_serve or as_json)
    run = run_demo(c.db, c.config, visitors=visitors, seed=seed, progress=console.Bars(quiet))
    if not quiet:
        print_summary(run, console.out, serving)
    if serving:
        from touchpoint.serve import serve

        # Runs until interrupted; it prints the dashboard's address and its token.
        serve(run.settings, "127.0.0.1", port, say=console.note)
    if as_json:
        typer.echo(run.score.as_json())


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
