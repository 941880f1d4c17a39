"""The queries behind attributed conversions and revenue by channel, one model or all.

Revenue is kept apart by the opportunity's state: open pipeline (not closed), won
revenue (closed won) and lost (closed, not won), from the `attribution` table's
`is_closed` and `is_won` columns. With a scope's period, only the conversions of its days
count (opportunities by close date, or creation while open; leads by their LC day).
"""

from __future__ import annotations

import duckdb

from touchpoint.errors import TouchpointError
from touchpoint.report.labels import MODEL_LABELS
from touchpoint.report.queries import Scope, has_columns, rows, scalar
from touchpoint.report.records import ChannelCredit, ModelComparison, ModelCredit
from touchpoint.stages.attribution.rows import LEAD_MODELS, MODELS

PREFERRED_MODEL = "w_shaped"
LEAD_FALLBACK_MODEL = "u_shaped"


def check_model(model: str) -> str:
    """`model` when it is a model's name, else one clear line."""
    if model not in MODELS:
        raise TouchpointError(f"unknown model {model!r}; use one of {', '.join(MODELS)}")
    return model


def default_model(con: duckdb.DuckDBPyConnection) -> str:
    """W-shaped when there are opportunities to credit, else U-shaped (it credits leads)."""
    if scalar(con, "SELECT count(*) FROM attribution WHERE model = ?", [PREFERRED_MODEL]):
        return PREFERRED_MODEL
    return LEAD_FALLBACK_MODEL


def _state_sql(con: duckdb.DuckDBPyConnection) -> tuple[str, str, str]:
    """SQL conditions for open, won and lost opportunity rows."""
    if not has_columns(con, "attribution", "is_closed", "is_won"):
        raise TouchpointError(
            "the last build has no is_closed / is_won in attribution: run `touchpoint build` again"
        )
    return "NOT coalesce(is_closed, false)", "coalesce(is_won, false)", "is_closed AND NOT is_won"


def channel_credits(
    con: duckdb.DuckDBPyConnection, model: str | None = None, scope: Scope | None = None
) -> list[ChannelCredit]:
    """Each channel's credit under `model` (every model when None), largest revenue first."""
    open_, won, lost = _state_sql(con)
    in_period = scope.conversions_where("conversion_type", "conversion_id") if scope else "TRUE"
    found = rows(
        con,
        f"""
        SELECT coalesce(channel, 'Unassigned') AS channel, model,
            coalesce(sum(weight) FILTER (conversion_type = 'lead'), 0) AS leads,
            coalesce(sum(weight) FILTER (conversion_type = 'opportunity'), 0) AS opportunities,
            coalesce(sum(revenue) FILTER (conversion_type = 'opportunity' AND {open_}), 0)
                AS open_pipeline,
            coalesce(sum(revenue) FILTER (conversion_type = 'opportunity' AND {won}), 0)
                AS won_revenue,
            coalesce(sum(revenue) FILTER (conversion_type = 'opportunity' AND {lost}), 0)
                AS lost_revenue
        FROM attribution
        WHERE ($model IS NULL OR model = $model) AND {in_period}
        GROUP BY ALL
        ORDER BY won_revenue + open_pipeline DESC, opportunities DESC, leads DESC, channel, model
        """,
        {"model": model},
    )
    return [ChannelCredit(**row) for row in found]


def model_credit(
    con: duckdb.DuckDBPyConnection, model: str, scope: Scope | None = None
) -> ModelCredit:
    """One model's credit by channel, with totals."""
    channels = channel_credits(con, check_model(model), scope)
    return ModelCredit(
        model=model,
        label=MODEL_LABELS[model],
        applies_to_leads=model in LEAD_MODELS,
        channels=channels,
        leads=sum(c.leads for c in channels),
        opportunities=sum(c.opportunities for c in channels),
        open_pipeline=sum(c.open_pipeline for c in channels),
        won_revenue=sum(c.won_revenue for c in channels),
    )


def model_comparison(con: duckdb.DuckDBPyConnection, scope: Scope | None = None) -> ModelComparison:
    """Every model's credit by channel, side by side (channels by their largest credit)."""
    credits = channel_credits(con, scope=scope)
    present = {c.model for c in credits}
    models = [m for m in MODELS if m in present]
    best: dict[str, float] = {}
    for credit in credits:
        size = credit.won_revenue + credit.open_pipeline + credit.opportunities + credit.leads
        best[credit.channel] = max(best.get(credit.channel, 0.0), size)
    channels = sorted(best, key=lambda c: (-best[c], c))
    return ModelComparison(
        models=models,
        labels={m: MODEL_LABELS[m] for m in models},
        channels=channels,
        credits=credits,
    )
