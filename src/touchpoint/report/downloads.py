"""The dashboard's CSV downloads, safe to open in a spreadsheet.

URLs, referrers and campaign names come from the public internet, so a cell
could hold `=HYPERLINK(...)`. Text cells starting with `=`, `+`, `-`, `@`, a
tab or a carriage return get a leading apostrophe, which spreadsheets show as
text instead of running (OWASP's advice on CSV injection). `touchpoint export`
does not do this: it writes values verbatim.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from urllib.parse import quote

from touchpoint.report.call_records import CallQualityRow
from touchpoint.report.labels import MODEL_LABELS
from touchpoint.report.records import Report
from touchpoint.stages.merge import OUTCOMES

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """A text cell a spreadsheet would run as a formula, made plain text; other values as given.

    >>> neutralise("=1+2"), neutralise("-cmd"), neutralise("Paid Search"), neutralise(-3)
    ("'=1+2", "'-cmd", 'Paid Search', -3)
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """CSV with a header; every text cell neutralised; None is an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else neutralise(v) for v in row])
    return buffer.getvalue()


def data_uri(text: str) -> str:
    """A `data:` URL of CSV text, for a download link that works from file:// too."""
    return "data:text/csv;charset=utf-8," + quote("\ufeff" + text, safe="")


def report_downloads(report: Report) -> dict[str, str]:
    """Each download of the dashboard as CSV text, by file name."""
    files = {
        "calls-by-channel.csv": csv_text(
            ["channel", *OUTCOMES, "total"],
            (
                [row.channel, *(getattr(row, o) for o in OUTCOMES), row.total]
                for row in report.calls_by_channel
            ),
        ),
        "unmerged-calls.csv": csv_text(
            [
                "call_id",
                "source_system",
                "called_at",
                "outcome",
                "channel",
                "touchpoint_type",
                "visitor_id",
                "minutes_from_session_start",
                "explanation",
            ],
            (
                [
                    c.call_id,
                    c.source_system,
                    c.called_at,
                    c.outcome,
                    c.channel,
                    c.touchpoint_type,
                    c.visitor_id,
                    c.minutes_from_session_start,
                    c.explanation.replace("\n", " "),
                ]
                for c in report.unmerged_calls.calls
            ),
        ),
        "touchpoints-by-type.csv": csv_text(
            ["touchpoint_type", "channel", "touchpoints"],
            ([c.touchpoint_type, c.channel, c.touchpoints] for c in report.touchpoint_mix.cells),
        ),
        "attribution-by-channel.csv": csv_text(
            [
                "model",
                "channel",
                "leads",
                "opportunities",
                "open_pipeline",
                "won_revenue",
                "lost_revenue",
            ],
            (
                [
                    MODEL_LABELS.get(c.model, c.model),
                    c.channel,
                    round(c.leads, 6),
                    round(c.opportunities, 6),
                    round(c.open_pipeline, 2),
                    round(c.won_revenue, 2),
                    round(c.lost_revenue, 2),
                ]
                for c in report.models.credits
            ),
        ),
        "weekly-trend.csv": csv_text(
            ["week", "sessions", "touchpoints", "leads", "calls", "merged_calls"],
            (
                [w.week, w.sessions, w.touchpoints, w.leads, w.calls, w.merged_calls]
                for w in report.trend
            ),
        ),
    }
    rec = report.reconciliation
    files["reconciliation.csv"] = csv_text(
        ["line", "reason", "opportunities", "open_pipeline", "won_revenue", "lost_revenue"],
        (
            [line, reason, t.opportunities, round(t.open_pipeline, 2), round(t.won_revenue, 2),
             round(t.lost_revenue, 2)]
            for line, reason, t in (
                ("attributed", "", rec.attributed),
                *(("not attributed", r.reason, r) for r in rec.reasons),
                ("in the CRM", "", rec.crm),
            )
        ),
    )  # fmt: skip
    files["lead-reconciliation.csv"] = csv_text(
        ["line", "reason", "leads"],
        [
            ["attributed", "", rec.leads.attributed],
            *(["not attributed", r.reason, r.leads] for r in rec.leads.reasons),
            ["in the CRM", "", rec.leads.crm],
        ],
    )
    files["breakdowns.csv"] = csv_text(
        [
            "dimension",
            "value",
            "calls",
            "merged_calls",
            "leads",
            "opportunities",
            "open_pipeline",
            "won_revenue",
        ],
        (
            [b.dimension, row.value, row.calls, row.merged_calls, round(row.leads, 6),
             round(row.opportunities, 6), round(row.open_pipeline, 2), round(row.won_revenue, 2)]
            for b in report.slices.breakdowns
            for row in b.rows
        ),
    )  # fmt: skip
    quality = report.call_quality
    measures = [name for name in CallQualityRow.model_fields if name != "value"]
    files["call-quality.csv"] = csv_text(
        ["dimension", "value", *measures],
        (
            [dimension, row.value, *(getattr(row, name) for name in measures)]
            for dimension, rows in (
                *((b.dimension, b.rows) for b in quality.breakdowns),
                ("all", [quality.total]),
            )
            for row in rows
        ),
    )
    journeys = report.journeys
    if journeys:
        files["journeys.csv"] = csv_text(
            [
                "person_id",
                "touchpoint_date",
                "touchpoint_type",
                "channel",
                "source",
                "medium",
                "campaign",
                "landing_page",
                "referrer",
                "positions",
                "call_id",
            ],
            (
                [
                    j.person_id,
                    t.touchpoint_date,
                    t.touchpoint_type,
                    t.channel,
                    t.source,
                    t.medium,
                    t.campaign,
                    t.landing_page,
                    t.referrer,
                    t.positions,
                    t.call_id,
                ]
                for j in journeys
                for t in j.touchpoints
            ),
        )
    return files
