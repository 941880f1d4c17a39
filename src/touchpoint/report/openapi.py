"""The OpenAPI 3.1 description of `/api/`, with schemas generated from the report's records."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from touchpoint.report import call_quality
from touchpoint.report import records as m
from touchpoint.report.call_records import CallQuality
from touchpoint.report.pool_records import PoolReport
from touchpoint.report.slices import DEFAULT_ROWS, DIMENSIONS
from touchpoint.report.unmerged import UNMERGED
from touchpoint.stages.attribution.rows import MODELS

MODEL = {
    "name": "model",
    "in": "query",
    "required": False,
    "description": "Attribution model; default w_shaped when there are opportunities, else u_shaped.",
    "schema": {"type": "string", "enum": list(MODELS)},
}


PERIOD = [
    {
        "name": name,
        "in": "query",
        "required": False,
        "description": f"{which} day of the figures (inclusive), in [site] timezone.",
        "schema": {"type": "string", "format": "date"},
    }
    for name, which in (("from", "First"), ("to", "Last"))
]


def _int(name: str, low: int, high: int, default: int, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "integer", "minimum": low, "maximum": high, "default": default},
    }


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "minLength": 1}}  # fmt: skip


# path → (summary, response record, parameters)
OPERATIONS: dict[str, tuple[str, type[BaseModel], list[dict[str, Any]]]] = {
    "/api/report": (
        "Everything the dashboard shows",
        m.Report,
        [
            MODEL,
            _int("weeks", 1, 520, 12, "Weeks of trend."),
            _int("unmerged_limit", 0, 1000, 100, "Most unmerged calls listed."),
            *PERIOD,
        ],
    ),
    "/api/summary": ("The build and its key numbers", m.Summary, [MODEL, *PERIOD]),
    "/api/calls/by-channel": (
        "Calls by channel and merge outcome",
        m.CallsByChannel,
        [*PERIOD],
    ),
    "/api/calls/breakdown": (
        "Calls answered or not, first-time or repeat, qualified or not, by channel and campaign",
        CallQuality,
        [
            {
                "name": "by",
                "in": "query",
                "required": False,
                "description": "Only this breakdown (channel and campaign when absent).",
                "schema": {"type": "string", "enum": list(call_quality.DIMENSIONS)},
            },
            _int("limit", 1, 1000, call_quality.DEFAULT_ROWS, "Most rows; the rest fold."),
            *PERIOD,
        ],
    ),
    "/api/calls/outcomes": (
        "Merge outcomes, the gap distribution and wider-window what-ifs",
        m.MergeOutcomes,
        [*PERIOD],
    ),
    "/api/calls/unmerged": (
        "Calls that did not merge, newest first, each explained",
        m.UnmergedCalls,
        [
            _int("limit", 1, 1000, 100, "Most calls returned."),
            _int("offset", 0, 10_000_000, 0, "Calls to skip."),
            {
                "name": "outcome",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": list(UNMERGED)},
            },
            *PERIOD,
        ],
    ),
    "/api/calls/{call_id}/explanation": (
        "Why a call merged or not (as `touchpoint explain call`)",
        m.CallExplanations,
        [_path("call_id", "The call's id or its vendor id.")],
    ),
    "/api/touchpoints/by-type": (
        "Touchpoints by type and channel",
        m.TouchpointMix,
        [*PERIOD],
    ),
    "/api/attribution": ("One model's credit by channel", m.ModelCredit, [MODEL, *PERIOD]),
    "/api/attribution/models": (
        "Every model's credit by channel",
        m.ModelComparison,
        [*PERIOD],
    ),
    "/api/reconciliation": (
        "The CRM's opportunities and leads against the credited ones, and why the rest are not",
        m.Reconciliation,
        [MODEL, *PERIOD],
    ),
    "/api/slices": (
        "Calls and revenue by channel, campaign, landing page, tracking number, vendor source",
        m.Slices,
        [
            MODEL,
            {
                "name": "dimension",
                "in": "query",
                "required": False,
                "description": "Only this breakdown (all five when absent).",
                "schema": {"type": "string", "enum": list(DIMENSIONS)},
            },
            _int("limit", 1, 1000, DEFAULT_ROWS, "Most values per breakdown; the rest fold."),
            *PERIOD,
        ],
    ),
    "/api/pools": (
        "Each number pool: utilisation per hour, ambiguous and fallback calls, the size needed",
        PoolReport,
        [*PERIOD],
    ),
    "/api/trend": (
        "Week by week in [site] timezone",
        m.WeeklyTrend,
        [_int("weeks", 1, 520, 12, "Weeks, the latest last."), *PERIOD],
    ),
    "/api/people": (
        "People whose journeys tell the most",
        m.People,
        [MODEL, _int("limit", 1, 500, 12, "Most people returned.")],
    ),
    "/api/people/{person_id}/journey": (
        "One person's touchpoints in time order",
        m.Journey,
        [_path("person_id", "A touchpoints.person_id."), MODEL],
    ),
}
ERRORS = {
    "400": "A query parameter it cannot use",
    "401": "No token: send Authorization: Bearer <[server] token>",
    "429": "Too many wrong tokens from this address: wait Retry-After seconds",
    "404": "No such call or person in the latest build",
    "503": "Nothing has been built yet",
}


def _error_response(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/ApiError"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document."""
    records: list[type[BaseModel]] = [record for _s, record, _p in OPERATIONS.values()]
    records.append(m.ApiError)
    _top, schemas = models_json_schema(
        [(record, "serialization") for record in records],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, Any] = {}
    for path, (summary, record, parameters) in OPERATIONS.items():
        responses: dict[str, Any] = {
            "200": {
                "description": summary,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{record.__name__}"}
                    }
                },
            }
        }
        for status, description in ERRORS.items():
            if status == "404" and "{" not in path:
                continue
            responses[status] = _error_response(description)
        operation_id = (
            path.removeprefix("/api/").replace("/", "_").replace("{", "").replace("}", "")
        )
        paths[path] = {
            "get": {
                "operationId": operation_id.replace("-", "_"),
                "summary": summary,
                "parameters": parameters,
                "responses": responses,
            }
        }
    paths["/api/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "responses": {
                "200": {"description": "The OpenAPI document", "content": {"application/json": {}}},
                "401": _error_response(ERRORS["401"]),
                "429": _error_response(ERRORS["429"]),
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "touchpoint",
            "version": "1",
            "description": "Reports on the latest published build: calls, merge outcomes, "
            "touchpoints, attribution and journeys. Every endpoint needs the [server] token.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "tp_dashboard"},
            },
        },
        "security": [{"bearer": []}, {"cookie": []}],
    }
