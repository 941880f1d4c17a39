"""The vendor tables of docs/vendors.md, made from `VENDORS` (`scripts/docs-vendors.sh`).

Each table sits between `<!-- vendors:NAME:start -->` and `<!-- vendors:NAME:end -->`;
`with_tables` rewrites what is between, and a test keeps the file current.
"""

from __future__ import annotations

from touchpoint.sources.vendors import VENDORS

EXAMPLE_SERVER = "https://t.example.com"
NONE = "—"
_LAYOUTS = {"json": "JSON", "csv": "CSV", "json or csv": "JSON or CSV"}


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    rule = "|" + "|".join("---" for _ in header) + "|"
    lines = ["| " + " | ".join(cells) + " |" for cells in (header, *rows)]
    return "\n".join([lines[0], rule, *lines[1:]])


def formats_table() -> str:
    """Each vendor's `import calls --format` values and its webhook path."""
    return _table(
        ("vendor", "`import calls --format`", "webhook on `touchpoint serve`"),
        [
            (
                vendor.title,
                ", ".join(f"`{f.name}` ({_LAYOUTS[f.layout]})" for f in vendor.files) or NONE,
                f"`{vendor.webhook.given_path}`" if vendor.webhook else NONE,
            )
            for vendor in VENDORS
        ],
    )


def visitor_ids_table() -> str:
    """Where each vendor's records carry the visitor id, and the setting that says so."""
    return _table(
        ("vendor", "where touchpoint looks, first found wins", "setting"),
        [
            (
                vendor.title,
                vendor.visitor_ids.documented.format(
                    ", then ".join(f"`{place}`" for place in vendor.visitor_ids.default_places())
                ),
                f"`[vendors] {vendor.visitor_ids.setting}`" if vendor.visitor_ids.setting else NONE,
            )
            for vendor in VENDORS
        ],
    )


def webhooks_table() -> str:
    """Each webhook's URL, the `[webhooks]` secret it needs and what is checked."""
    return _table(
        ("vendor", "URL to give the vendor", "secret", "what is checked"),
        [
            (
                vendor.title,
                f"`{EXAMPLE_SERVER}{hook.given_path}`",
                f"`{hook.secret}`",
                hook.checks,
            )
            for vendor in VENDORS
            if (hook := vendor.webhook)
        ],
    )


TABLES = {"formats": formats_table, "visitor-ids": visitor_ids_table, "webhooks": webhooks_table}


def with_tables(document: str) -> str:
    """The document with every vendor table between its markers made afresh."""
    for name, make in TABLES.items():
        start, end = f"<!-- vendors:{name}:start -->\n", f"\n<!-- vendors:{name}:end -->"
        before, opened, rest = document.partition(start)
        _old, closed, after = rest.partition(end)
        if not (opened and closed):
            raise ValueError(f"the document has no {start.strip()} ... {end.strip()} markers")
        document = before + start + make() + end + after
    return document
