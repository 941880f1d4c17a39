"""What `touchpoint demo` prints: what went through, what touchpoint concluded, how right it was.

The summary goes to stdout (the progress bars and the dashboard's lines to
stderr); `--json` prints the score instead (`DemoScore.as_json`).
"""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from touchpoint.demo.run import DemoRun
from touchpoint.stages.merge import AMBIGUOUS, OUTCOMES

VENDOR_NAMES = {"ctm": "CTM", "callrail": "CallRail", "invoca": "Invoca", "twilio": "Twilio"}


def print_summary(run: DemoRun, out: Console, serving: bool) -> None:
    """What the demo did and how close touchpoint came to the truth, on `out`."""
    _what_went_through(run, out)
    out.print(_calls_table(run))
    _how_right(run, out)
    _what_to_ask(run, out)
    if serving:
        out.print("\nServing the dashboard (Ctrl-C stops it; sign in with the token below):")


def _what_went_through(run: DemoRun, out: Console) -> None:
    played, built = run.played, run.build
    hooks = ", ".join(f"{name} {played.calls[kind]:,}" for kind, name in VENDOR_NAMES.items())
    out.print(
        f"sent {played.events:,} page views and forms in {played.requests['events']:,} requests "
        f"to POST /collect, and {played.calls.total():,} calls to the vendors' webhooks "
        f"({hooks} in {played.requests['twilio']:,} status callbacks), each signed as its "
        f"vendor signs, plus {played.again:,} redeliveries and call-modified updates: "
        f"{played.seconds:.1f}s over HTTP"
    )
    _pool_line(run, out)
    for report in run.imported:
        out.print(
            f"imported {report.accepted:,} {report.kind} "
            f"({report.rejected:,} rejected) through the same importers users run"
        )
    out.print(
        f"built in {built.seconds:.1f}s: {built.rows['sessions']:,} sessions, "
        f"{built.rows['calls']:,} calls, {built.rows['touchpoints']:,} touchpoints"
    )


def _pool_line(run: DemoRun, out: Console) -> None:
    """What dynamic number insertion did for the Twilio calls (DESIGN §15)."""
    shown = run.numbers.shown
    if not shown:
        return
    pool = run.settings.numbers.pools[0]
    fallback = sum(s.fallback for s in shown)
    twilio = [c for c in run.calls if c["source_system"] == "twilio"]
    matches = Counter(c.get("number_match") for c in twilio)
    out.print(
        f"asked POST /numbers for the number of each of {len(shown):,} page views (pool "
        f"{pool.name}: {len(pool.numbers)} numbers, held {pool.hold}; {fallback:,} "
        f"{'was' if fallback == 1 else 'were'} shown the fallback); the {len(twilio):,} Twilio callers dialled the number they were "
        f"shown, and touchpoint found the visitor of {matches['matched']:,} of them "
        f"({matches['ambiguous']:,} ambiguous, {matches['fallback']:,} on the fallback, "
        f"{matches['unassigned']:,} to a number nobody held then)"
    )


def _calls_table(run: DemoRun) -> Table:
    """Calls by the channel touchpoint credited and the merge outcome, busiest channel first."""
    grid: dict[str, Counter[str]] = {}
    for call in run.calls:
        channel = run.channels.get(call["call_id"]) or "(no touchpoint)"
        grid.setdefault(channel, Counter())[call["outcome"]] += 1
    table = Table(title="Calls by channel and merge outcome", title_justify="left")
    table.add_column("channel")
    for name in (*OUTCOMES, "total"):
        table.add_column(name, justify="right")
    for channel in sorted(grid, key=lambda c: (-sum(grid[c].values()), c)):
        counts = grid[channel]
        table.add_row(
            escape(channel), *(f"{counts[o]:,}" for o in OUTCOMES), f"{sum(counts.values()):,}"
        )
    return table


def _how_right(run: DemoRun, out: Console) -> None:
    calls, outcome = run.calls, run.score
    sources = Counter(str(call["source_system"]) for call in calls)
    out.print("calls by source: " + ", ".join(f"{n:,} {name}" for name, n in sources.most_common()))
    share = outcome.credited_right / outcome.calls if outcome.calls else 0.0
    missed = outcome.missed
    out.print(
        f"[bold]{outcome.credited_right:,} of {outcome.calls:,} calls ({share:.0%}) credited to "
        f"the channel that really produced them[/], {outcome.credited_by_vendor:,} of them "
        f"through the vendor's own record of the visit. The rest came more than 30 minutes "
        f"after a visit no vendor recorded ({missed['outside_window']:,}), carried no visitor "
        f"id ({missed['no_visitor_id']:,}), or came from visitors whose browsing was never "
        f"tracked ({missed['no_session']:,})." + _ambiguous(outcome.by_outcome[AMBIGUOUS])
    )
    linked = sum(
        1
        for call in calls
        if call["source_system"] != "salesforce"
        and str(call["external_id"] or "").startswith("00T")
    )
    out.print(
        f"One call, whatever the route: {linked:,} calls came both by webhook and as the "
        f"Salesforce Task the vendor wrote (CallObject); each is listed once."
    )
    out.print(
        f"Merge decisions that match the demo's ground truth: "
        f"{outcome.outcomes_agree:,} of {outcome.calls:,}."
    )


def _ambiguous(calls: int) -> str:
    """The calls no one visitor could be named for (DESIGN §15), when there were any."""
    if not calls:
        return ""
    return (
        f" {calls:,} rang a pool number more than one visitor held within the pool's hold, "
        "so touchpoint named none of them (ambiguous)."
    )


def _what_to_ask(run: DemoRun, out: Console) -> None:
    examples = {c["outcome"]: c["call_id"] for c in run.calls}
    prefix = f"touchpoint --db {run.database}"
    out.print("\nAsk why a call merged or not:")
    for name in ("outside_window", "no_visitor_id", "ambiguous", "merged"):
        if name in examples:
            out.print(escape(f"  {prefix} explain call {examples[name]}"), soft_wrap=True)
    out.print(escape(f"  {prefix} export calls --format csv | head"), soft_wrap=True)
    out.print(escape(f"  {prefix} report --html demo.html"), soft_wrap=True)
