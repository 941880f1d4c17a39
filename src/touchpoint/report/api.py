"""The JSON API under `/api/`: the report's parts, read from the published build.

Handlers only read parameters and pick a query; the queries live in this
package. Each request opens the current snapshot read-only in a worker thread,
so it never blocks the collector's event loop or a running build. Answers: 200
with the record, 400 for a bad parameter, 404 for an unknown call or person,
503 before the first build (the gate in `auth` answers 401 without the token).
The dated endpoints take `from` and `to` (days in `[site] timezone`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from touchpoint.config import Settings
from touchpoint.errors import TouchpointError
from touchpoint.report import call_quality
from touchpoint.report.explain import calls_with_id, explain_calls
from touchpoint.report.openapi import openapi_document
from touchpoint.report.period import Period
from touchpoint.report.pool_records import PoolReport
from touchpoint.report.reader import (
    DEFAULT_PEOPLE,
    DEFAULT_UNMERGED,
    DEFAULT_WEEKS,
    Reader,
    credit,
    journeys,
    queries,
    reading,
    slices,
    unmerged,
)
from touchpoint.report.records import (
    CallExplanations,
    CallsByChannel,
    People,
    WeeklyTrend,
)
from touchpoint.stages.attribution.rows import MODELS
from touchpoint.store import current_snapshot_path

NO_STORE = {"Cache-Control": "no-store"}


class BadParameter(Exception):
    """A query parameter the API cannot use (400)."""


class NotFound(Exception):
    """No call or person with that id in the latest build (404)."""


def error(message: str, status: int) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=NO_STORE)


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high]."""
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadParameter(f"{name} must be a whole number, not {text!r}") from None
    if not low <= value <= high:
        raise BadParameter(f"{name} must be between {low} and {high}")
    return value


def choice_param(request: Request, name: str, choices: tuple[str, ...]) -> str | None:
    """A query parameter that must be one of `choices` (or absent)."""
    value = request.query_params.get(name)
    if value is not None and value not in choices:
        raise BadParameter(f"{name} must be one of {', '.join(choices)}")
    return value


def period_param(request: Request) -> Period:
    """The days `from` and `to` ask for (open-ended when absent; none when `from` > `to`)."""
    try:
        query = request.query_params
        return Period.of(query.get("from"), query.get("to"), ordered=False)
    except TouchpointError as exc:
        raise BadParameter(str(exc)) from None


@dataclass(frozen=True)
class Api:
    """The API's endpoints over one server's settings."""

    settings: Settings

    async def answer(
        self, request: Request, read: Callable[[Reader], BaseModel], dated: bool = False
    ) -> Response:
        """Run `read` on the latest build in a worker thread; turn failures into 4xx / 503.

        A `dated` endpoint's reader covers the days of `from` and `to`.
        """
        period = period_param(request) if dated else Period()

        def work() -> BaseModel:
            with reading(self.settings) as reader:
                return read(reader.within(period))

        if current_snapshot_path(self.settings.db) is None:
            return error("nothing has been built yet: run `touchpoint build`", 503)
        try:
            record = await run_in_threadpool(work)
        except BadParameter as exc:
            return error(str(exc), 400)
        except NotFound as exc:
            return error(str(exc), 404)
        except TouchpointError as exc:
            return error(str(exc), 400)
        return JSONResponse(record.model_dump(mode="json"), headers=NO_STORE)

    async def report(self, request: Request) -> Response:
        model = choice_param(request, "model", MODELS)
        weeks = int_param(request, "weeks", DEFAULT_WEEKS, 1, 520)
        limit = int_param(request, "unmerged_limit", DEFAULT_UNMERGED, 0, 1000)
        return await self.answer(
            request, lambda r: r.report(model, weeks=weeks, unmerged_limit=limit), dated=True
        )

    async def summary(self, request: Request) -> Response:
        model = choice_param(request, "model", MODELS)
        return await self.answer(request, lambda r: r.summary(model), dated=True)

    async def calls_by_channel(self, request: Request) -> Response:
        return await self.answer(
            request,
            lambda r: CallsByChannel(channels=queries.calls_by_channel(r.con, r.scope)),
            dated=True,
        )

    async def merge_outcomes(self, request: Request) -> Response:
        return await self.answer(
            request, lambda r: queries.merge_outcomes(r.con, r.rule, r.scope), dated=True
        )

    async def unmerged_calls(self, request: Request) -> Response:
        limit = int_param(request, "limit", DEFAULT_UNMERGED, 1, 1000)
        offset = int_param(request, "offset", 0, 0, 10_000_000)
        outcome = choice_param(request, "outcome", unmerged.UNMERGED)
        return await self.answer(
            request,
            lambda r: unmerged.unmerged_calls(r.con, r.rule, limit, offset, outcome, r.scope),
            dated=True,
        )

    async def explanation(self, request: Request) -> Response:
        call_id = request.path_params["call_id"]

        def read(reader: Reader) -> CallExplanations:
            calls = calls_with_id(reader.con, call_id)
            if not calls:
                raise NotFound(f"no call {call_id!r} in the latest build")
            return CallExplanations(calls=explain_calls(reader.con, calls, reader.rule))

        return await self.answer(request, read)

    async def touchpoint_mix(self, request: Request) -> Response:
        return await self.answer(
            request, lambda r: queries.touchpoint_mix(r.con, r.scope), dated=True
        )

    async def attribution(self, request: Request) -> Response:
        model = choice_param(request, "model", MODELS)
        return await self.answer(
            request, lambda r: credit.model_credit(r.con, r.model(model), r.scope), dated=True
        )

    async def models(self, request: Request) -> Response:
        return await self.answer(
            request, lambda r: credit.model_comparison(r.con, r.scope), dated=True
        )

    async def reconciliation(self, request: Request) -> Response:
        model = choice_param(request, "model", MODELS)
        return await self.answer(request, lambda r: r.reconciliation(model), dated=True)

    async def slices(self, request: Request) -> Response:
        model = choice_param(request, "model", MODELS)
        dimension = choice_param(request, "dimension", tuple(slices.DIMENSIONS))
        limit = int_param(request, "limit", slices.DEFAULT_ROWS, 1, 1000)
        return await self.answer(
            request, lambda r: r.slices(model, limit=limit, dimension=dimension), dated=True
        )

    async def call_breakdown(self, request: Request) -> Response:
        by = choice_param(request, "by", tuple(call_quality.DIMENSIONS))
        limit = int_param(request, "limit", call_quality.DEFAULT_ROWS, 1, 1000)
        return await self.answer(request, lambda r: r.call_quality(limit=limit, by=by), dated=True)

    async def pools(self, request: Request) -> Response:
        return await self.answer(
            request,
            lambda r: r.pool_report() or PoolReport(timezone=r.scope.timezone, pools=[]),
            dated=True,
        )

    async def trend(self, request: Request) -> Response:
        weeks = int_param(request, "weeks", DEFAULT_WEEKS, 1, 520)
        return await self.answer(
            request,
            lambda r: WeeklyTrend(
                timezone=r.scope.timezone, weeks=queries.weekly_trend(r.con, r.scope, weeks)
            ),
            dated=True,
        )

    async def people(self, request: Request) -> Response:
        model = choice_param(request, "model", MODELS)
        limit = int_param(request, "limit", DEFAULT_PEOPLE, 1, 500)

        def read(reader: Reader) -> People:
            chosen = reader.model(model)
            return People(model=chosen, people=journeys.notable_people(reader.con, chosen, limit))

        return await self.answer(request, read)

    async def journey(self, request: Request) -> Response:
        person_id = request.path_params["person_id"]
        model = choice_param(request, "model", MODELS)

        def read(reader: Reader) -> BaseModel:
            found = reader.journey(person_id, model)
            if found is None:
                raise NotFound(f"no touchpoints for person {person_id!r} in the latest build")
            return found

        return await self.answer(request, read)

    async def openapi(self, _request: Request) -> Response:
        return JSONResponse(openapi_document(), headers=NO_STORE)

    def router(self) -> Router:
        """The endpoints, relative to `/api`; every one a GET (HEAD too)."""
        endpoints = {
            "/openapi.json": self.openapi,
            "/report": self.report,
            "/summary": self.summary,
            "/calls/by-channel": self.calls_by_channel,
            "/calls/breakdown": self.call_breakdown,
            "/calls/outcomes": self.merge_outcomes,
            "/calls/unmerged": self.unmerged_calls,
            "/calls/{call_id}/explanation": self.explanation,
            "/touchpoints/by-type": self.touchpoint_mix,
            "/attribution": self.attribution,
            "/attribution/models": self.models,
            "/reconciliation": self.reconciliation,
            "/slices": self.slices,
            "/pools": self.pools,
            "/trend": self.trend,
            "/people": self.people,
            "/people/{person_id}/journey": self.journey,
        }
        return Router(
            routes=[
                Route(path, _parameters_checked(endpoint), methods=["GET"])
                for path, endpoint in endpoints.items()
            ],
            default=_not_found,
        )


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """Paths no endpoint matches (an id with a line break, say) get JSON too."""
    await error("no such API endpoint", 404)(scope, receive, send)


def _parameters_checked(
    endpoint: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint, with a bad query parameter answered 400."""

    async def checked(request: Request) -> Response:
        try:
            return await endpoint(request)
        except BadParameter as exc:
            return error(str(exc), 400)

    return checked
