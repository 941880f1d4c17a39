"""CallRail's Custom Cookie Capture as a visitor-id source (DESIGN §12).

CallRail can attach named first-party cookies of the visitor to a call. No
CallRail document found here names the field the captured cookies arrive in
(tests/fixtures/vendors/ORIGINS.md), so each case starts from the captured
post-call webhook `callrail-post-call.json`, takes its `custom_fields` visitor id
away and adds the cookies under the names the reader looks in (`custom_cookies`,
`cookies`) in the shapes it reads: an object of name → value, a list of
name / value objects, a `Cookie` header's text. The cookie read is the
snippet's, `[collector] cookie_name`; the fields `[vendors]
callrail_visitor_id_fields` names come first.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from support.paths import VENDOR_FIXTURES
from touchpoint.config import load_settings
from touchpoint.sources.vendors.callrail import callrail_row

RECEIVED_US = 1_780_000_000_000_000
VISITOR = "5e0c9a7b3d1f4e2a8b6c4d2e0f1a3b5c"


@pytest.fixture
def settings(workdir):
    return load_settings(None)


def captured(**fields: Any) -> dict[str, Any]:
    """The captured post-call webhook without its custom-field visitor id, plus `fields`."""
    call = json.loads((VENDOR_FIXTURES / "callrail-post-call.json").read_text())
    del call["custom_fields"]
    return {**call, **fields}


@pytest.mark.parametrize(
    ("title", "fields"),
    [
        ("an object", {"custom_cookies": {"_ga": "GA1.1.77.1772", "_tp_uid": VISITOR}}),
        ("a name/value list", {"cookies": [{"name": "_tp_uid", "value": VISITOR}]}),
        ("a Cookie header", {"custom_cookies": f"_ga=GA1.1.77.1772; _tp_uid={VISITOR}"}),
    ],
)
def test_the_touchpoint_cookie_is_the_visitor_id(settings, title: str, fields) -> None:
    row = callrail_row(captured(**fields), settings, RECEIVED_US)
    assert row["visitor_id"] == VISITOR, title


def test_without_the_cookie_there_is_no_visitor_id(settings) -> None:
    assert callrail_row(captured(), settings, RECEIVED_US)["visitor_id"] is None
    others = captured(custom_cookies={"_ga": "GA1.1.77.1772", "calltrk_uuid": "x1"})
    assert callrail_row(others, settings, RECEIVED_US)["visitor_id"] is None
    unset = captured(custom_cookies={"_tp_uid": "undefined"})  # a script that found none
    assert callrail_row(unset, settings, RECEIVED_US)["visitor_id"] is None


def test_the_cookie_is_the_one_collector_cookie_name_names(workdir) -> None:
    renamed = load_settings(None, collector={"cookie_name": "_biz_uid"})
    call = captured(custom_cookies={"_tp_uid": "not-this-one", "_biz_uid": VISITOR})
    assert callrail_row(call, renamed, RECEIVED_US)["visitor_id"] == VISITOR


def test_the_visitor_id_fields_come_first(settings) -> None:
    call = captured(
        custom_fields={"tp_uid": "9c1d7e2a4b6f48d0a3e5c7b9d1f20384"},
        custom_cookies={"_tp_uid": VISITOR},
    )
    assert callrail_row(call, settings, RECEIVED_US)["visitor_id"] == (
        "9c1d7e2a4b6f48d0a3e5c7b9d1f20384"
    )


def test_cookies_elsewhere_are_read_from_a_configured_path(workdir) -> None:
    """A payload that carries the captured cookies under another name: name the path."""
    call = captured(integration_data={"cookie_capture": [{"name": "_tp_uid", "value": VISITOR}]})
    default = load_settings(None)
    assert callrail_row(call, default, RECEIVED_US)["visitor_id"] is None
    configured = load_settings(
        None, vendors={"callrail_visitor_id_fields": ["integration_data.cookie_capture._tp_uid"]}
    )
    assert callrail_row(call, configured, RECEIVED_US)["visitor_id"] == VISITOR
