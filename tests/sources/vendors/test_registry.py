"""`VENDORS` is the one list of vendors: its declarations hang together, and what reads
them (the docs' tables, the CLI's `--format` help, the importers, the webhook routes)
shows exactly what they declare."""

from __future__ import annotations

import re

from support.paths import ROOT
from touchpoint.collect.app import create_app
from touchpoint.config import Settings, VendorSettings, WebhookSettings
from touchpoint.importers import CALL_FORMATS
from touchpoint.sources.vendors import VENDORS
from touchpoint.sources.vendors.tables import TABLES, with_tables

TASK_FORMATS = ("salesforce-csv", "salesforce-json")  # Salesforce Tasks: not a vendor


def test_the_vendor_tables_in_the_docs_are_current() -> None:
    text = (ROOT / "docs/vendors.md").read_text()
    for name in TABLES:
        assert f"<!-- vendors:{name}:start -->" in text, f"docs/vendors.md lost its {name} markers"
    assert with_tables(text) == text, "the vendor declarations changed: run scripts/docs-vendors.sh"


def test_every_vendor_is_in_every_table_it_belongs_to() -> None:
    text = (ROOT / "docs/vendors.md").read_text()
    tables = {
        name: re.search(rf"<!-- vendors:{name}:start -->\n(.*?)\n<!-- vendors:", text, re.S)
        for name in TABLES
    }
    for vendor in VENDORS:
        rows = {
            name: [
                line
                for line in found.group(1).splitlines()
                if line.startswith(f"| {vendor.title} |")
            ]
            for name, found in tables.items()
            if found
        }
        assert len(rows["formats"]) == 1 and len(rows["visitor-ids"]) == 1, vendor.name
        assert len(rows["webhooks"]) == (1 if vendor.webhook else 0), vendor.name


def test_names_formats_and_routes_are_each_declared_once() -> None:
    names = [vendor.name for vendor in VENDORS]
    formats = [file.name for vendor in VENDORS for file in vendor.files]
    paths = [path for vendor in VENDORS if vendor.webhook for path in vendor.webhook.paths]
    assert len(set(names)) == len(names)
    assert len(set(formats)) == len(formats) and not set(formats) & set(TASK_FORMATS)
    assert len(set(paths)) == len(paths)
    assert all(path.startswith("/webhooks/") for path in paths)


def test_declared_settings_exist() -> None:
    """A secret or visitor-id setting a vendor names is a real `[webhooks]`/`[vendors]` field."""
    for vendor in VENDORS:
        if vendor.webhook:
            assert vendor.webhook.secret in WebhookSettings.model_fields, vendor.name
        setting = vendor.visitor_ids.setting
        if setting:
            assert setting in VendorSettings.model_fields, vendor.name
            assert vendor.visitor_ids.default_places(), vendor.name


def test_import_calls_takes_every_declared_format_and_its_help_lists_them(cli) -> None:
    declared = tuple(file.name for vendor in VENDORS for file in vendor.files)
    assert (*TASK_FORMATS, *declared) == CALL_FORMATS
    shown = cli("import", "calls", "--help").stdout
    listed = ", ".join(CALL_FORMATS[:-1]) + " or " + CALL_FORMATS[-1] + "."
    assert listed in " ".join(shown.replace("│", " ").split())


def test_serve_routes_every_declared_webhook_path() -> None:
    app = create_app(Settings(), token="t")
    routed = [
        path for route in app.routes if (path := getattr(route, "path", "")).startswith("/webhooks")
    ]
    declared = [path for vendor in VENDORS if vendor.webhook for path in vendor.webhook.paths]
    assert routed == declared


def test_explain_names_each_vendors_visitor_id_place_from_the_build_settings() -> None:
    recorded = {"ctm_visitor_id_fields": ["custom_fields.visitor"], "invoca_visitor_id_params": []}
    said = {vendor.name: vendor.visitor_ids.explain(recorded) for vendor in VENDORS}
    assert said["ctm"] == "custom_fields.visitor"
    assert said["callrail"] == "custom_fields.tp_uid"  # none recorded: the old default
    assert said["invoca"] == "the RingPool parameter tp_uid"
    assert "no visitor id" in said["twilio"]
