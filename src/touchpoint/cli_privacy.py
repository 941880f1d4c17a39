"""`touchpoint erase` (DESIGN §16): parse, call `privacy.erase`, print; registered by cli.py."""

from __future__ import annotations

from typing import Annotated

import typer

from touchpoint import console
from touchpoint.cli_group import JsonFlag, command_context


def erase_command(
    ctx: typer.Context,
    visitor: Annotated[list[str] | None, typer.Option(help="A visitor id (repeatable).")] = None,
    email: Annotated[list[str] | None, typer.Option(help="An email (repeatable).")] = None,
    phone: Annotated[
        list[str] | None, typer.Option(help="A phone number, as typed or E.164 (repeatable).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would go; change nothing.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Remove every trace of a person and suppress them in later imports and collection."""
    from touchpoint.privacy.erase import checked_identifiers, erase
    from touchpoint.privacy.summary import print_erasure

    c = command_context(ctx)
    settings, named = c.settings(), (visitor or [], email or [], phone or [])
    checked_identifiers(*named, settings.phone.default_region)  # one line, before the spinner
    with console.working("erasing", c.quiet or as_json):
        done = erase(settings, *named, dry_run=dry_run)
    print_erasure(done, console.out, console.err, quiet=c.quiet, as_json=as_json)
