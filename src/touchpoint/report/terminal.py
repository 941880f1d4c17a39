"""`touchpoint report`: the report as Rich tables a person reads in a terminal.

Channels, campaigns, pages, activity types and CRM names come from outside: every
such value is printed through `safe_text` (a `cell`, or `markup` inside a caption),
so its control characters show as escapes and Rich never reads it as markup.
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from touchpoint.config import Settings
from touchpoint.report.call_records import CallQualityBreakdown, CallQualityRow
from touchpoint.report.labels import MODEL_LABELS, OUTCOME_LABELS, window_words
from touchpoint.report.pool_records import PoolReport
from touchpoint.report.pools import BUSY, rule_of_thumb
from touchpoint.report.records import Breakdown, Report, RevenueTotals
from touchpoint.report.safe_text import cell, markup, visible
from touchpoint.stages.merge import OUTCOMES

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CAD": "CA$", "AUD": "A$"}


def money(amount: float, currency: str) -> str:
    """12345.6 → '$12,346' (whole units; the code after the number when it has no symbol)."""
    symbol = SYMBOLS.get(currency)
    number = f"{amount:,.0f}"
    return f"{symbol}{number}" if symbol else f"{number} {currency}"


def share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def count(value: float) -> str:
    """Whole numbers as they are, fractional credit with one decimal."""
    return f"{value:,.0f}" if abs(value - round(value)) < 1e-9 else f"{value:,.1f}"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", expand=False)
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    return table


def render(report: Report) -> Group:
    """Every table of the report, in reading order."""
    s = report.summary
    days = f"{s.first_day} to {s.last_day}" if s.first_day else "no activity yet"
    period = report.period
    covers = ""
    if period.from_day or period.to_day:
        covers = f"figures for {period.from_day or 'the start'} to {period.to_day or 'today'}\n"
    header = Text.assemble(
        ("touchpoint report", "bold"),
        f"  build {s.build_id}, published {s.built_at_local}; activity {days} ({s.timezone})\n",
        covers,
        f"{s.calls:,} calls, {s.merged_calls:,} merged with a web session ({share(s.merge_rate)}); ",
        f"{s.touchpoints:,} touchpoints of {s.people:,} people; {s.leads:,} leads, ",
        f"{s.opportunities:,} opportunities; {MODEL_LABELS[s.model]}: ",
        (f"{money(s.won_revenue, s.currency)} won", "bold green"),
        f", {money(s.open_pipeline, s.currency)} open pipeline",
    )
    return Group(
        header,
        _touchpoint_mix(report),
        _outcomes(report),
        _calls_by_channel(report),
        *(_call_quality(report, b) for b in report.call_quality.breakdowns),
        *([pools_table(report.pools)] if report.pools else []),
        _attribution(report),
        _reconciliation(report),
        *(_breakdown(report, b) for b in report.slices.breakdowns),
        _trend(report),
    )


def _touchpoint_mix(report: Report) -> Table:
    mix = report.touchpoint_mix
    types = [markup(t) for t in mix.touchpoint_types]  # a Task's Type, as the CRM has it
    table = _table("Touchpoints by channel and type", "channel", *types, "total")
    grid = {(c.channel, c.touchpoint_type): c.touchpoints for c in mix.cells}
    for channel in mix.channels:
        counts = [grid.get((channel, t), 0) for t in mix.touchpoint_types]
        table.add_row(cell(channel), *(f"{n:,}" for n in counts), f"{sum(counts):,}")
    if not mix.channels:
        table.add_row("(no touchpoints yet)")
    return table


def _outcomes(report: Report) -> Table:
    merge = report.merge_outcomes
    window = window_words(merge.window_minutes)
    table = _table(f"Call outcomes (window {window} from the {merge.anchor.replace('_', ' ')})")
    for column, justify in (("outcome", "left"), ("calls", "right"), ("share", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    table.add_column("why", ratio=1)
    for outcome in merge.outcomes:
        table.add_row(
            OUTCOME_LABELS[outcome.outcome],
            f"{outcome.calls:,}",
            share(outcome.share),
            outcome.reason,
        )
    notes = [
        f"a {w.window_minutes}-minute window would merge {w.more_merged:,} more "
        f"({share(w.merge_rate)} of calls)"
        for w in merge.what_if
        if w.window_minutes > merge.window_minutes
    ]
    if notes:
        table.caption = "; ".join(notes).capitalize() + "."
        table.caption_justify = "left"
    return table


def _calls_by_channel(report: Report) -> Table:
    table = _table(
        "Calls by channel and outcome", "channel", *(OUTCOME_LABELS[o] for o in OUTCOMES), "total"
    )
    for row in report.calls_by_channel:
        table.add_row(
            cell(row.channel),
            *(f"{getattr(row, o):,}" for o in OUTCOMES),
            f"{row.total:,}",
        )
    if report.unmerged_calls.total:
        table.caption = (
            f"{report.unmerged_calls.total:,} calls did not merge: "
            "`touchpoint explain call ID` says why, `touchpoint report --html` lists them all."
        )
        table.caption_justify = "left"
    return table


def _call_quality(report: Report, breakdown: CallQualityBreakdown) -> Group:
    """Two tables for one dimension, each readable at 100 columns: how calls went, and
    which counted (qualified) and what they were worth."""
    quality = report.call_quality
    currency = report.summary.currency
    name = breakdown.label.lower()
    answered = _table(
        f"Calls by {name}: answered, first-time callers",
        name, "calls", "answered", "not answered", "no status", "first-time", "repeat",
        "caller unknown",
    )  # fmt: skip
    undecided = bool(quality.total.qualified_unknown)
    counted = ["calls", "qualified", "not qualified", *(["undecided"] if undecided else [])]
    qualified = _table(f"Calls by {name}: qualified, value", name, *counted)
    for column in ("value", "texts", "forms"):
        qualified.add_column(column, justify="right")

    def add(row: CallQualityRow, label: str | Text, style: str | None = None) -> None:
        went = (row.calls, row.answered, row.not_answered, row.status_unknown, row.first_time)
        answered.add_row(
            label, *(f"{n:,}" for n in (*went, row.repeat, row.caller_unknown)), style=style
        )
        value = "–" if row.call_value is None else money(row.call_value, currency)
        counts = [row.calls, row.qualified, row.not_qualified]
        counts += [row.qualified_unknown] if undecided else []
        qualified.add_row(
            label,
            *(f"{n:,}" for n in counts),
            value,
            f"{row.texts:,}",
            f"{row.forms:,}",
            style=style,
        )

    for row in breakdown.rows:
        add(row, cell(row.value))
    if breakdown.rows:
        for table in (answered, qualified):
            table.add_section()
        add(quality.total, "all", "bold")
    else:
        answered.add_row("(no calls in these days)")
        qualified.add_row("(no calls in these days)")
    answered.caption = (
        "Not answered: missed, voicemail, abandoned, busy or failed. No status, caller "
        "unknown: the source does not say."
    )
    notes = ["Texts and forms are not calls: they are counted apart"]
    if quality.disqualified_reasons:
        reasons = ", ".join(f"{markup(r.reason)} {r.calls:,}" for r in quality.disqualified_reasons)
        notes.append(f"not qualified: {reasons}")
    qualified.caption = "; ".join(notes) + "."
    for table in (answered, qualified):
        table.caption_justify = "left"
    return Group(answered, qualified)


def pools_table(found: PoolReport) -> Table:
    """Each number pool: how full it ran, its calls' matches, the size its traffic asks for."""
    table = _table(
        f"Number pools (hours in {found.timezone})",
        "pool", "size", "hold", "peak", f"≥{BUSY:.0%}", "full", "calls", "ambiguous",
        "fallback", "needed", "busiest",
    )  # fmt: skip
    for p in found.pools:
        table.add_row(
            cell(p.pool),
            f"{p.size:,}",
            f"{p.hold_minutes:g}m",
            share(p.peak_utilisation),
            f"{p.busy_hours:,}",
            f"{p.exhausted_hours:,}",
            f"{p.calls:,}",
            share(p.ambiguous_share),
            share(p.fallback_share),
            f"{p.recommended_size:,}",
            f"{p.busiest_hour_visitors:,}",
            style="bold red" if p.recommended_size > p.size else None,
        )
    table.caption = (
        "Size: the pool's numbers. Peak: most numbers held at once / size. "
        f"≥{BUSY:.0%}: hours at that use or more. Full: hours a visitor got the fallback. "
        "Needed: the peak of visitors over their hold plus one hold, so no number is given "
        "again within a hold of its release. Busiest: the visitors of the busiest hour; "
        f"vendors size a pool by them at ≤{BUSY:.0%} use ("
        + ", ".join(f"{markup(p.pool)}: {rule_of_thumb(p):,}" for p in found.pools)
        + "; docs/dni.md)."
    )
    table.caption_justify = "left"
    return table


def _attribution(report: Report) -> Table:
    credit = report.attribution
    currency = report.summary.currency
    columns = ["channel"]
    if credit.applies_to_leads:
        columns.append("leads")
    columns += ["opportunities", "open pipeline", "won revenue"]
    table = _table(f"Attributed conversions and revenue, {credit.label} model", *columns)
    for row in credit.channels:
        cells: list[str | Text] = [cell(row.channel)]
        if credit.applies_to_leads:
            cells.append(count(row.leads))
        cells += [
            count(row.opportunities),
            money(row.open_pipeline, currency),
            money(row.won_revenue, currency),
        ]
        table.add_row(*cells)
    total = ["total"]
    if credit.applies_to_leads:
        total.append(count(credit.leads))
    total += [
        count(credit.opportunities),
        money(credit.open_pipeline, currency),
        money(credit.won_revenue, currency),
    ]
    if credit.channels:
        table.add_section()
        table.add_row(*total, style="bold")
    else:
        table.add_row("(nothing credited by this model yet)")
    if not credit.applies_to_leads:
        table.caption = (
            "This model credits opportunities only; --model u_shaped also credits leads."
        )
        table.caption_justify = "left"
    return table


def _reconciliation(report: Report) -> Table:
    rec = report.reconciliation
    currency = report.summary.currency
    table = _table(
        f"Reconciliation with the CRM, {MODEL_LABELS[rec.model]} model",
        "opportunities",
        "count",
        "open pipeline",
        "won revenue",
        "lost revenue",
    )

    def line(label: str, totals: RevenueTotals, style: str | None = None) -> None:
        table.add_row(
            label,
            f"{totals.opportunities:,}",
            money(totals.open_pipeline, currency),
            money(totals.won_revenue, currency),
            money(totals.lost_revenue, currency),
            style=style,
        )

    line("attributed (credited)", rec.attributed)
    for reason in rec.reasons:
        line(f"not attributed: {reason.words}", reason)
    table.add_section()
    line("in the CRM", rec.crm, "bold")
    leads = rec.leads
    table.add_section()
    table.add_row("leads attributed (credited)", f"{leads.attributed:,}", "", "", "")
    for why in leads.reasons:
        table.add_row(f"leads not attributed: {why.words}", f"{why.leads:,}", "", "", "")
    table.add_row("leads in the CRM", f"{leads.crm:,}", "", "", "", style="bold")
    if rec.opportunities:
        largest = ", ".join(
            f"{markup(o.name or o.opportunity_id)} ({money(o.amount, currency)} {o.state})"
            for o in rec.opportunities[:3]
        )
        table.caption = (
            f"{rec.unattributed.opportunities:,} opportunities have no credited touchpoint, "
            f"the largest: {largest}. `touchpoint report --json` lists them."
        )
        table.caption_justify = "left"
    return table


def _breakdown(report: Report, breakdown: Breakdown) -> Table:
    credit = report.attribution
    currency = report.summary.currency
    columns = [breakdown.label.lower(), "calls", "merged"]
    if credit.applies_to_leads:
        columns.append("leads")
    columns += ["opportunities", "open pipeline", "won revenue"]
    table = _table(f"Calls and revenue by {breakdown.label.lower()}, {credit.label}", *columns)
    for row in breakdown.rows:
        cells: list[str | Text] = [cell(row.value), f"{row.calls:,}", f"{row.merged_calls:,}"]
        if credit.applies_to_leads:
            cells.append(count(row.leads))
        cells += [
            count(row.opportunities),
            money(row.open_pipeline, currency),
            money(row.won_revenue, currency),
        ]
        table.add_row(*cells)
    if not breakdown.rows:
        table.add_row("(no calls or credit in these days)")
    return table


def _trend(report: Report) -> Table:
    table = _table(
        f"By week ({report.summary.timezone}, weeks start on Monday)",
        "week",
        "sessions",
        "touchpoints",
        "leads",
        "calls",
        "merged",
    )
    for week in report.trend:
        table.add_row(
            week.week,
            f"{week.sessions:,}",
            f"{week.touchpoints:,}",
            f"{week.leads:,}",
            f"{week.calls:,}",
            f"{week.merged_calls:,}",
        )
    if not report.trend:
        table.add_row("(no activity yet)")
    return table


def print_report(report: Report, console: Console, settings: Settings | None = None) -> None:
    """Print the report's tables; with the settings, the conversions a platform refused."""
    console.print(render(report))
    if settings is not None:
        from touchpoint.destinations import DESTINATIONS
        from touchpoint.destinations.conversions_ledger import not_accepted
        from touchpoint.store import open_store_readonly

        titles = {d.name: d.title for d in DESTINATIONS}
        with open_store_readonly(settings) as store:
            refused = not_accepted(store)
        for name, n, reason in refused:  # DESIGN §13: permanent errors, shown, never retried
            line = f"{n:,} conversions not accepted by {titles.get(name, name)}: {visible(reason)}"
            console.print(Text(line, style="yellow"))
