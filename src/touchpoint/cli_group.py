"""The root of the CLI: its options (anywhere on the line), `--version`, help as written,
and the options several commands share.

`touchpoint export calls --db other.duckdb` means what `touchpoint --db other.duckdb
export calls` does: the root's own options (`--db`, `--config`, `-q`, ...) are taken
out of the line wherever they stand, up to a `--`. Help text is plain text, never Rich
markup, so `[default: ./touchpoint.duckdb]` in a help line is shown, not swallowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from touchpoint import __version__
from touchpoint.config import Origin, Settings, load_settings, settings_origins
from touchpoint.errors import TouchpointError
from touchpoint.sources.files import Dialect, dialect


class Context:
    """What the root's options say, kept for the command: the store, the file, quiet."""

    def __init__(self, db: Path | None, config: Path | None, quiet: bool):
        self.db = db
        self.config = config
        self.quiet = quiet

    def settings(self) -> Settings:
        """The settings in force: the file, the environment, then `--db`."""
        return load_settings(self.config, db=self.db)

    def origins(self) -> dict[str, Origin]:
        """Where each setting in force came from."""
        return settings_origins(self.config, db=self.db)


EPILOG = (
    "Settings come from touchpoint.toml, then TOUCHPOINT_<SECTION>__<KEY> variables "
    "(e.g. TOUCHPOINT_MERGE__WINDOW=45m), then flags; `touchpoint settings` lists them all. "
    "--db, --config and -q may also follow the command."
)


def print_version(wanted: bool) -> None:
    """`--version`: print it and stop."""
    if wanted:
        typer.echo(f"touchpoint {__version__}")
        raise typer.Exit()


def root(
    ctx: typer.Context,
    db: Annotated[
        Path | None,
        typer.Option(
            "--db", help="The DuckDB store [env TOUCHPOINT_DB; default ./touchpoint.duckdb]."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Settings file [env TOUCHPOINT_CONFIG; default ./touchpoint.toml]."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors.")] = False,
    _version: Annotated[
        bool,
        typer.Option("--version", callback=print_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """The options of `touchpoint` itself, kept for the command that follows."""
    ctx.obj = Context(db, config, quiet)


def hoist_options(args: list[str], options: dict[str, bool]) -> list[str]:
    """`args` with the `options` named (each: whether it takes a value) moved to the front.

    >>> hoist_options(["export", "calls", "--db", "x.duckdb", "-q"], {"--db": True, "-q": False})
    ['--db', 'x.duckdb', '-q', 'export', 'calls']
    >>> hoist_options(["import", "--", "--db"], {"--db": True})
    ['import', '--', '--db']
    """
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest.extend(args[index:])
            break
        name, equals, _value = arg.partition("=")
        if name in options:
            takes_value = options[name] and not equals and index + 1 < len(args)
            front.extend(args[index : index + 2] if takes_value else [arg])
            index += 2 if takes_value else 1
            continue
        rest.append(arg)
        index += 1
    return front + rest


def literal_help(command: Any) -> None:
    """Escape the help of `command`, its options and its subcommands, so Rich shows it as is."""
    for attribute in ("help", "short_help", "epilog"):
        text = getattr(command, attribute, None)
        if text:
            setattr(command, attribute, escape(text))
    for param in command.params:
        text = getattr(param, "help", None)
        if text:
            param.help = escape(text)
    for sub in getattr(command, "commands", {}).values():
        literal_help(sub)


class RootGroup(TyperGroup):
    """`touchpoint` itself: takes its options anywhere on the line, prints help as written."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        literal_help(self)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's own click Context
        options = {
            name: not getattr(param, "is_flag", False)
            for param in self.params
            if param.param_type_name == "option"
            for name in (*param.opts, *param.secondary_opts)
        }
        return super().parse_args(ctx, hoist_options(args, options))


# What several commands share: their options and how they find the root's Context.


def one_of(names: tuple[str, ...]) -> str:
    """Choices as help text says them: "a, b or c"."""
    return ", ".join(names[:-1]) + " or " + names[-1]


def command_context(ctx: typer.Context) -> Context:
    """The root's `Context`, from any command."""
    obj = ctx.find_root().obj
    assert isinstance(obj, Context)
    return obj


JsonFlag = Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")]
StrictFlag = Annotated[
    bool, typer.Option("--strict", help="Import nothing if any record is rejected.")
]
_PATHS_HELP = "Files (.gz too), directories (every file in them) or quoted globs to import."
Paths = Annotated[list[Path], typer.Argument(help=_PATHS_HELP, show_default=False)]
_DELIMITER_HELP = "CSV delimiter: , ; tab or | [default: detected from the header]."
Delimiter = Annotated[str | None, typer.Option(help=_DELIMITER_HELP, show_default=False)]
_ENCODING_HELP = "cp1252, latin-1, utf-16, ... [default: utf-8; a byte-order mark is detected]."
Encoding = Annotated[str | None, typer.Option(help=_ENCODING_HELP, show_default=False)]


def dialect_of(delimiter: str | None, encoding: str | None) -> Dialect:
    """`--delimiter` and `--encoding` as a `Dialect`; a bad value is a usage error."""
    try:
        return dialect(delimiter, encoding)
    except TouchpointError as exc:
        raise typer.BadParameter(str(exc)) from None
