"""The days a report covers: `--from/--to` (`?from=&to=`), dates in `[site] timezone`.

A period is inclusive at both ends and open when a bound is missing. It turns
into SQL over the stored (naive UTC) timestamps: the first moment of `from` and
the first moment after `to`, each taken at the site's midnight, so a call at
23:30 in Los Angeles counts on that day there, not on the next day in UTC.

An opportunity falls on its close date when it is closed and on its creation
date when it is still open (won and lost revenue by close, pipeline by
creation); a lead on its LC touchpoint's date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from touchpoint.errors import TouchpointError


def parse_day(text: str | None, name: str) -> date | None:
    """`2026-03-01` as a date (None when absent); anything else one clear line."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise TouchpointError(f"{name} must be a date like 2026-03-01, not {text!r}") from None


@dataclass(frozen=True)
class Period:
    """From and to (inclusive, site days); None is open-ended."""

    first: date | None = None
    last: date | None = None

    @classmethod
    def of(cls, first: str | None, last: str | None, ordered: bool = True) -> Period:
        """The period `--from FIRST --to LAST` asks for (checked; `from` after `to` is an
        error when `ordered`, else a period of no days)."""
        period = cls(parse_day(first, "from"), parse_day(last, "to"))
        if ordered and period.first and period.last and period.first > period.last:
            raise TouchpointError(f"from ({period.first}) is after to ({period.last})")
        return period

    @property
    def everything(self) -> bool:
        return self.first is None and self.last is None

    def bounds(self, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """The period's first moment and the first moment after it, as naive UTC."""

        def midnight(day: date, days_after: int = 0) -> datetime | None:
            # Days at the ends of the calendar (9999-12-31) have no midnight after them in
            # every zone: such a bound is no bound at all.
            try:
                local = datetime.combine(day + timedelta(days=days_after), time(), tzinfo=zone)
                return local.astimezone(UTC).replace(tzinfo=None)
            except OverflowError:
                return None

        start = midnight(self.first) if self.first else None
        end = midnight(self.last, 1) if self.last else None
        return start, end

    def where(self, column: str, zone: ZoneInfo) -> str:
        """SQL: `column` (a stored UTC timestamp) falls in the period; TRUE when open."""
        start, end = self.bounds(zone)
        conditions = []
        if start is not None:
            conditions.append(f"{column} >= TIMESTAMP '{start.isoformat(sep=' ')}'")
        if end is not None:
            conditions.append(f"{column} < TIMESTAMP '{end.isoformat(sep=' ')}'")
        return "(" + " AND ".join(conditions) + ")" if conditions else "TRUE"

    def conversions(self, zone: ZoneInfo) -> str:
        """SQL: the `(conversion_type, conversion_id)` pairs whose day is in the period."""
        return f"""
            SELECT conversion_type, conversion_id FROM (
                SELECT 'opportunity' AS conversion_type, id AS conversion_id,
                    CASE WHEN coalesce(is_closed, false) AND close_us IS NOT NULL
                        THEN make_timestamp(close_us) ELSE created_at END AS conversion_at
                FROM opportunities
                UNION ALL
                SELECT 'lead', conversion_id, make_timestamp(
                    coalesce(min(touchpoint_us) FILTER (is_lc), max(touchpoint_us)))
                FROM journeys WHERE conversion_type = 'lead' GROUP BY conversion_id
            ) WHERE {self.where("conversion_at", zone)}
        """
