"""`touchpoint report --html`: the report as one self-contained HTML page.

The page carries everything it needs: the chart library (Apache ECharts, bundled
with the package under `static/`), its own script and styles, and the report's
data as JSON. It makes no request at all when opened, so it works from
`file://` and offline; the served dashboard is the same page.

Every stored string (URLs, referrers and campaign names come from the public
internet) reaches the page through Jinja2's autoescaping, or as JSON in a
`<script type="application/json">` element with `<`, `>` and `&` escaped; the
script draws text with ECharts (SVG text) or escapes it for tooltips. A
Content-Security-Policy allows only the page's own two scripts, by hash.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from touchpoint.errors import TouchpointError
from touchpoint.report.downloads import data_uri, report_downloads
from touchpoint.report.labels import (
    MODEL_LABELS,
    OUTCOME_COLORS,
    OUTCOME_LABELS,
    channel_color,
)
from touchpoint.report.pools import BUSY, rule_of_thumb
from touchpoint.report.records import Journey, Report
from touchpoint.report.terminal import count, money
from touchpoint.stages.merge import OUTCOMES

# The report's parts the page renders as HTML tables, not charts.
HTML_TABLES = {"unmerged_calls", "journeys", "reconciliation", "slices", "call_quality", "pools"}
MEASURES = (
    ("won_revenue", "Won"),
    ("open_pipeline", "Pipeline"),
    ("opportunities", "Opportunities"),
    ("leads", "Leads"),
)
LOGO = Markup(
    '<svg class="brand-mark" viewBox="0 0 32 32" aria-hidden="true">'
    '<rect width="32" height="32" rx="8" fill="#2f6fed"/>'
    '<path d="M10.5 21.5 21.5 10.5" stroke="#fff" stroke-width="2.4" stroke-linecap="round" '
    'opacity=".55"/><circle cx="10" cy="22" r="3.6" fill="#fff"/>'
    '<circle cx="22" cy="10" r="3.6" fill="#fff"/></svg>'
)
FAVICON = "data:image/svg+xml," + quote(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="8" fill="#2f6fed"/>'
    '<circle cx="10" cy="22" r="4" fill="#fff"/><circle cx="22" cy="10" r="4" fill="#fff"/></svg>',
    safe="",
)


def _static(name: str) -> str:
    return resources.files("touchpoint").joinpath(f"static/{name}").read_text(encoding="utf-8")


@functools.cache
def assets() -> dict[str, str]:
    """The page's bundled styles and scripts, read once."""
    return {
        "css": _static("dashboard.css"),
        "echarts_js": _static("echarts.min.js"),
        "app_js": _static("dashboard.js"),
    }


def _hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


@functools.cache
def content_security_policy() -> str:
    """Only the page's own two scripts run; nothing is fetched, no form goes elsewhere."""
    scripts = " ".join(_hash(assets()[name]) for name in ("echarts_js", "app_js"))
    return (
        f"default-src 'none'; script-src {scripts}; style-src 'unsafe-inline'; "
        "img-src data:; form-action 'self'; base-uri 'none'"
    )


@functools.cache
def environment() -> jinja2.Environment:
    """Templates from the package, autoescaped."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("touchpoint", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=lambda v: f"{v:,.0f}" if v is not None else "–",
        pct=lambda v: "–" if v is None else f"{v:.0%}",
        money=money,
        credit=count,
        minutes=lambda v: f"{v:g} min",
        day=lambda v: datetime.fromisoformat(v).strftime("%-d %b %Y") if v else "",
        shorten_url=_shorten_url,
    )
    env.globals.update(channel_color=channel_color, logo=LOGO, favicon=FAVICON)
    return env


def _shorten_url(url: str, limit: int = 72) -> str:
    """A URL without its scheme, cut to `limit` characters."""
    text = url.split("://", 1)[-1]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _wall_clock(iso: str, zone: ZoneInfo) -> datetime:
    """A UTC ISO timestamp as wall-clock time in the site's zone."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(zone)


def _chart_ms(iso: str, zone: ZoneInfo) -> int:
    """Milliseconds of the site's wall clock read as UTC, for a chart drawn with useUTC."""
    return int(_wall_clock(iso, zone).replace(tzinfo=UTC).timestamp() * 1000)


def person_label(journey: Journey, currency: str) -> str:
    """How the journey picker names a person: their path, size and deal."""
    channels: list[str] = []
    for touch in journey.touchpoints:
        if touch.channel not in channels:
            channels.append(touch.channel)
    path = " → ".join(channels[:3]) + (" → …" if len(channels) > 3 else "")
    touches = len(journey.touchpoints)
    label = f"{path} · {touches} touchpoint{'s' if touches != 1 else ''}"
    deals = [c for c in journey.conversions if c.conversion_type == "opportunity"]
    if deals:
        deal = max(deals, key=lambda c: c.amount or 0)
        state = "won" if deal.is_won else "lost" if deal.is_closed else "open"
        label += f" · {deal.name or 'opportunity'} {money(deal.amount or 0, currency)} {state}"
    return label


def _journey_payload(journey: Journey, zone: ZoneInfo) -> dict[str, Any]:
    """What the timeline chart draws for one journey."""
    touches = [
        {
            "at": _chart_ms(t.touchpoint_date, zone),
            "when": _wall_clock(t.touchpoint_date, zone).strftime("%-d %b %Y, %H:%M"),
            "type": t.touchpoint_type,
            "channel": t.channel,
            "source": t.source,
            "campaign": t.campaign,
            "positions": (t.positions or "").replace(",", " · "),
            "credited": t.credited_revenue,
            "call_id": t.call_id,
        }
        for t in journey.touchpoints
    ]
    marks = []
    for c in journey.conversions:
        if c.created_at:
            what = "Lead" if c.conversion_type == "lead" else "Opportunity"
            marks.append(_mark(c.created_at, what, False, zone))
        if c.closes_at and c.is_closed:
            closed = "Closed won" if c.is_won else "Closed lost"
            marks.append(_mark(c.closes_at, closed, bool(c.is_won), zone))
    return {"touches": touches, "marks": sorted(marks, key=lambda m: m["at"])}


def _mark(iso: str, label: str, won: bool, zone: ZoneInfo) -> dict[str, Any]:
    """A CRM milestone on the journey's time line."""
    when = _wall_clock(iso, zone).strftime("%-d %b %Y, %H:%M")
    return {"at": _chart_ms(iso, zone), "label": label, "won": won, "when": when}


def _default_measure(report: Report) -> str:
    credits = report.models.credits
    for measure, _label in MEASURES:
        if any(getattr(c, measure) > 0 for c in credits):
            return measure
    return "leads"


def render_page(report: Report, *, served: bool = False, site_name: str = "") -> str:
    """The dashboard page for `report`; `served` adds the sign-out button."""
    summary = report.summary
    zone = ZoneInfo(summary.timezone)
    channels = {c.channel for c in report.calls_by_channel}
    channels |= set(report.touchpoint_mix.channels) | set(report.models.channels)
    channels |= {t.channel for j in report.journeys for t in j.touchpoints}
    payload = {
        "currency": summary.currency,
        "outcomes": list(OUTCOMES),
        "outcomeLabels": OUTCOME_LABELS,
        "outcomeColors": OUTCOME_COLORS,
        "modelLabels": MODEL_LABELS,
        "channelColors": {channel: channel_color(channel) for channel in sorted(channels)},
        "defaultMeasure": _default_measure(report),
        # The tables the page renders as HTML stay out of the charts' data.
        "report": report.model_dump(
            mode="json",
            exclude=HTML_TABLES,
        ),
        "journeys": [_journey_payload(j, zone) for j in report.journeys],
    }
    env = environment()

    def local(iso: str | None, date_only: bool = False) -> str:
        if not iso:
            return ""
        moment = _wall_clock(iso, zone)
        return moment.strftime("%-d %b %Y" if date_only else "%-d %b %Y, %H:%M")

    files = report_downloads(report)
    page = env.get_template("dashboard.html.j2").render(
        r=report,
        served=served,
        model=summary.model,
        site_name=site_name,
        payload=payload,
        csp=content_security_policy(),
        css=Markup(assets()["css"]),
        echarts_js=Markup(assets()["echarts_js"]),
        app_js=Markup(assets()["app_js"]),
        downloads={name: data_uri(text) for name, text in files.items()},
        model_labels=MODEL_LABELS,
        outcome_labels=OUTCOME_LABELS,
        outcome_colors=OUTCOME_COLORS,
        measures=MEASURES,
        default_measure=payload["defaultMeasure"],
        has_gaps=any(b.merged or b.outside_window for b in report.merge_outcomes.gap_bins),
        stage_seconds=sum(stage.seconds for stage in summary.stages),
        person_label=lambda j: person_label(j, summary.currency),
        local=local,
        busy=BUSY,
        rule_of_thumb=rule_of_thumb,
    )
    return page


def write_page(report: Report, path: Path, site_name: str = "") -> int:
    """Write the page to `path`; return its size in bytes."""
    text = render_page(report, site_name=site_name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise TouchpointError(f"cannot write {path}: {exc.strerror}") from None
    return len(text.encode("utf-8"))
