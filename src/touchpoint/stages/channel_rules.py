"""The user's channel rules (DESIGN §3): a CSV in the reference product's layout.

`channel,subchannel,campaign,medium,source,landing_page,referrer`, read top-down,
first match wins; an empty cell matches anything, `*` is a wildcard and `;`
separates alternatives. `channels.classify` runs them before the GA4 defaults.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir

from touchpoint.errors import TouchpointError

RULE_COLUMNS = ("channel", "subchannel", "campaign", "medium", "source", "landing_page", "referrer")
RULE_MATCH_COLUMNS = ("campaign", "medium", "source", "landing_page", "referrer")


@dataclass(frozen=True)
class ChannelRule:
    """One row of a user's rules file: a channel for what its cells match."""

    line: int
    channel: str
    subchannel: str | None
    patterns: tuple[tuple[str, tuple[str, ...]], ...]  # (column, alternatives as regexes)


def wildcard_regex(pattern: str) -> str:
    """An anchored, lower-case regex for a rules cell pattern (`*` is a wildcard).

    >>> wildcard_regex("*google.*")
    '^.*google\\\\..*$'
    """
    parts = [re.escape(part) for part in pattern.strip().lower().split("*")]
    return "^" + ".*".join(parts) + "$"


def read_rules(path: Path) -> tuple[ChannelRule, ...]:
    """Channel rules from a CSV in the reference product's layout, top-down."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise TouchpointError(f"channel rules {path}: cannot read it ({exc.strerror})") from None
    reader = csv.DictReader(text.splitlines())
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [name for name in ("channel",) if name not in header]
    unknown = [name for name in header if name and name not in RULE_COLUMNS]
    if missing or unknown:
        raise TouchpointError(
            f"channel rules {path}: the header must be {','.join(RULE_COLUMNS)}"
            f" ({'unknown column ' + unknown[0] if unknown else 'no channel column'})"
        )
    reader.fieldnames = header
    rules = []
    for row in reader:
        channel = (row.get("channel") or "").strip()
        if not channel:
            raise TouchpointError(f"channel rules {path}:{reader.line_num}: the channel is empty")
        patterns = []
        for column in RULE_MATCH_COLUMNS:
            cell = (row.get(column) or "").strip()
            if cell:
                alternatives = tuple(wildcard_regex(p) for p in cell.split(";") if p.strip())
                patterns.append((column, alternatives))
        subchannel = (row.get("subchannel") or "").strip() or None
        rules.append(ChannelRule(reader.line_num, channel, subchannel, tuple(patterns)))
    return tuple(rules)


def rule_matches(table: ir.Table, rule: ChannelRule) -> ir.BooleanValue:
    """True where a row matches every cell the rule fills (any of its alternatives)."""
    condition = ibis.literal(True)
    for column, alternatives in rule.patterns:
        value = table[column].lower().fill_null("")
        values = [value]
        if column in ("landing_page", "referrer"):
            values.append(value.re_replace(r"^https?://", ""))
        matched = ibis.literal(False)
        for regex in alternatives:
            for candidate in values:
                matched |= candidate.re_search(regex)
        condition &= matched
    return condition
