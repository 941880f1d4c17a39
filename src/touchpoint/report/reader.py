"""Reports on the latest build: the terminal tables, the HTML dashboard and the JSON API.

`queries`, `credit`, `journeys`, `unmerged`, `reconcile`, `slices` and `call_quality` read a
published snapshot (read-only, never blocking a build) into the typed records of `records`
(and `call_records`); `terminal` prints them with Rich, `page` renders the self-contained
HTML page, and `web` / `api` serve both behind `[server] token`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import duckdb

from touchpoint.config import Settings
from touchpoint.errors import TouchpointError
from touchpoint.report import (
    call_quality,
    credit,
    journeys,
    pools,
    queries,
    reconcile,
    slices,
    unmerged,
)
from touchpoint.report.call_records import CallQuality
from touchpoint.report.explain import MergeRule, merge_rule
from touchpoint.report.period import Period
from touchpoint.report.pool_records import PoolReport
from touchpoint.report.pools import PoolShape
from touchpoint.report.records import (
    Journey,
    Reconciliation,
    Report,
    ReportPeriod,
    Slices,
    Summary,
)
from touchpoint.store import open_snapshot

DEFAULT_WEEKS = 12
DEFAULT_UNMERGED = 100
DEFAULT_PEOPLE = 12


@dataclass(frozen=True)
class Reader:
    """One snapshot, read for reports: a connection, the build's merge rule, the site's scope."""

    con: duckdb.DuckDBPyConnection
    rule: MergeRule
    scope: queries.Scope
    pool_shapes: tuple[PoolShape, ...] = ()

    def model(self, wanted: str | None) -> str:
        """`wanted` when given (checked), else the default model for this build."""
        return credit.check_model(wanted) if wanted else credit.default_model(self.con)

    def within(self, period: Period) -> Reader:
        """The same snapshot, its figures limited to `period`'s days."""
        return replace(self, scope=replace(self.scope, period=period))

    def period(self) -> ReportPeriod:
        """The days this reader's figures cover."""
        chosen = self.scope.period
        return ReportPeriod(
            from_day=str(chosen.first) if chosen.first else None,
            to_day=str(chosen.last) if chosen.last else None,
            timezone=self.scope.timezone,
        )

    def reconciliation(self, model: str | None = None) -> Reconciliation:
        """The CRM's opportunities of the period, attributed or not (and why not)."""
        return reconcile.reconciliation(self.con, self.model(model), self.scope)

    def slices(
        self,
        model: str | None = None,
        limit: int = slices.DEFAULT_ROWS,
        dimension: str | None = None,
    ) -> Slices:
        """Calls and revenue by channel, campaign, landing page, tracking number, vendor source."""
        wanted = (dimension,) if dimension else tuple(slices.DIMENSIONS)
        return slices.slices(self.con, self.model(model), self.scope, limit, wanted)

    def call_quality(
        self, limit: int = call_quality.DEFAULT_ROWS, by: str | None = None
    ) -> CallQuality:
        """Calls answered or not, first-time or repeat, qualified or not, by channel and campaign."""
        wanted = (by,) if by else tuple(call_quality.DIMENSIONS)
        return call_quality.call_quality(self.con, self.scope, limit, wanted)

    def pool_report(self) -> PoolReport | None:
        """How each number pool ran over the period; None when no pool is configured."""
        return pools.pool_report(self.con, self.pool_shapes, self.scope)

    def summary(self, model: str | None = None) -> Summary:
        """The header: build, days covered and key numbers."""
        con = self.con
        chosen = self.model(model)
        info = queries.build_info(con)
        where = self.scope.where
        dated = {
            "events": "occurred_at",
            "sessions": "started_at",
            "calls": "called_at",
            "touchpoints": "touchpoint_date",
        }
        counts = {
            table: queries.scalar(con, f"SELECT count(*) FROM {table} WHERE {where(column)}")
            for table, column in dated.items()
        }
        merged = queries.scalar(
            con, f"SELECT count(*) FROM calls WHERE outcome = 'merged' AND {where('called_at')}"
        )
        in_period = self.scope.conversions_where("conversion_type", "conversion_id")
        conversions = dict(
            con.execute(
                "SELECT conversion_type, count(DISTINCT conversion_id) FROM attribution "
                f"WHERE {in_period} GROUP BY ALL"
            ).fetchall()
        )
        totals = credit.model_credit(con, chosen, self.scope)
        first_day, last_day = queries.date_range(con, self.scope)
        built_at = info["built_at"]
        local = built_at.replace(tzinfo=queries.ZoneInfo("UTC")).astimezone(self.scope.zone())
        return Summary(
            build_id=info["build_id"],
            built_at=queries.iso_utc(built_at) or "",
            built_at_local=local.strftime("%-d %b %Y, %H:%M %Z"),
            timezone=self.scope.timezone,
            currency=self.scope.currency,
            first_day=first_day,
            last_day=last_day,
            events=counts["events"],
            sessions=counts["sessions"],
            calls=counts["calls"],
            merged_calls=merged,
            merge_rate=merged / counts["calls"] if counts["calls"] else None,
            touchpoints=counts["touchpoints"],
            people=queries.scalar(
                con,
                "SELECT count(DISTINCT person_id) FROM touchpoints "
                f"WHERE {where('touchpoint_date')}",
            ),
            leads=conversions.get("lead", 0),
            opportunities=conversions.get("opportunity", 0),
            model=chosen,
            open_pipeline=totals.open_pipeline,
            won_revenue=totals.won_revenue,
            window_minutes=self.rule.window_us / 60_000_000,
            anchor=self.rule.anchor,
            stages=queries.stage_figures(info),
        )

    def journey(self, person_id: str, model: str | None = None) -> Journey | None:
        """One person's journey, or None when no touchpoint has that person id."""
        return journeys.journey(self.con, person_id, self.model(model))

    def report(
        self,
        model: str | None = None,
        weeks: int = DEFAULT_WEEKS,
        unmerged_limit: int = DEFAULT_UNMERGED,
        people: int = DEFAULT_PEOPLE,
        person: str | None = None,
    ) -> Report:
        """Everything at once: what `report`, `report --html` and the dashboard show."""
        chosen = self.model(model)
        notable = journeys.notable_people(self.con, chosen, people)
        shown: list[Journey] = []
        if person:
            wanted = journeys.journey(self.con, person, chosen)
            if wanted is None:
                raise TouchpointError(f"no touchpoints for person {person!r} in the latest build")
            shown.append(wanted)
        for ref in notable:
            if all(ref.person_id != j.person_id for j in shown) and (
                found := journeys.journey(self.con, ref.person_id, chosen)
            ):
                shown.append(found)
        return Report(
            summary=self.summary(chosen),
            calls_by_channel=queries.calls_by_channel(self.con, self.scope),
            merge_outcomes=queries.merge_outcomes(self.con, self.rule, self.scope),
            touchpoint_mix=queries.touchpoint_mix(self.con, self.scope),
            attribution=credit.model_credit(self.con, chosen, self.scope),
            models=credit.model_comparison(self.con, self.scope),
            trend=queries.weekly_trend(self.con, self.scope, weeks),
            unmerged_calls=unmerged.unmerged_calls(
                self.con, self.rule, unmerged_limit, scope=self.scope
            ),
            people=notable,
            journeys=shown,
            period=self.period(),
            reconciliation=self.reconciliation(chosen),
            slices=self.slices(chosen),
            call_quality=self.call_quality(),
            pools=self.pool_report(),
        )


def scope_of(settings: Settings) -> queries.Scope:
    """The site's time zone (checked) and currency."""
    scope = queries.Scope(settings.site.timezone, settings.site.currency)
    scope.zone()
    return scope


@contextmanager
def reading(settings: Settings) -> Iterator[Reader]:
    """A `Reader` over the latest published build."""
    scope = scope_of(settings)
    with open_snapshot(settings) as con:
        yield Reader(con, merge_rule(con), scope, pools.pool_shapes(settings))


def read_report(
    settings: Settings,
    model: str | None = None,
    weeks: int = DEFAULT_WEEKS,
    unmerged_limit: int = DEFAULT_UNMERGED,
    person: str | None = None,
    period: Period | None = None,
) -> Report:
    """The whole report on the latest build (over `period`'s days when given)."""
    with reading(settings) as reader:
        scoped = reader.within(period) if period else reader
        return scoped.report(model, weeks=weeks, unmerged_limit=unmerged_limit, person=person)
