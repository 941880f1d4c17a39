"""A built world for the report and dashboard tests: the demo, plus visitors whose
campaign names, sources, referrers and pages are hostile strings from the internet.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from support.collector_server import clean_env

TOKEN = "test-dashboard-token-7f3a"
XSS_CAMPAIGN = '<img src=x onerror="window.__pwned=1">'
XSS_REFERRER = 'https://evil.example/?"><script>window.__pwned=2</script>'
XSS_PAGE_QUERY = "</script><script>window.__pwned=3</script>"
XSS_CHANNEL = "<svg onload=window.__pwned=4>"
FORMULA_CAMPAIGN = '=HYPERLINK("https://evil.example","click")'
HOSTILE_VISITOR = "hostile-visitor-1"
HOSTILE_CALL = "00T7h000001HoStIAA"
MERGED_CALL = "00T7h000001MeRgIAA"
SITE = "https://www.northwind-plumbing.example"

CONFIG = f"""
[site]
domains = ["northwind-plumbing.example"]
[channels]
rules = "rules.csv"
[server]
token = "{TOKEN}"
[collector]
rate_limit_per_minute = 0
segment_max_age = "300ms"
"""


def touchpoint(directory: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run `touchpoint` in `directory`; fail with its stderr if it fails; return stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "touchpoint", *args],
        cwd=directory,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise AssertionError(f"touchpoint {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def _hostile_events() -> list[dict[str, object]]:
    landing = (
        f"{SITE}/?utm_source=%3Cb%3Eevil%3C%2Fb%3E&utm_medium=cpc&utm_campaign="
        + quote(XSS_CAMPAIGN, safe="")
        + "&q="
        + quote(XSS_PAGE_QUERY, safe="")
    )
    second = f"{SITE}/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=" + quote(
        FORMULA_CAMPAIGN, safe=""
    )
    visit = {"visitor_id": HOSTILE_VISITOR, "type": "page_view"}
    return [
        {**visit, "occurred_at": "2026-03-20T10:00:00Z", "url": landing, "referrer": XSS_REFERRER},
        {
            **visit,
            "type": "form_submit",
            "occurred_at": "2026-03-20T10:05:00Z",
            "url": f"{SITE}/contact",
            "email": "hostile@example.org",
        },
        {**visit, "occurred_at": "2026-03-22T09:00:00Z", "url": second},
    ]


def build_world(directory: Path, visitors: int = 240) -> Path:
    """The demo world and the hostile visitor, built; returns the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "touchpoint.toml").write_text(CONFIG)
    (directory / "rules.csv").write_text(
        "channel,subchannel,campaign,medium,source,landing_page,referrer\n"
        f'"{XSS_CHANNEL}",,*HYPERLINK*,,,,\n'
    )
    database = str(directory / "touchpoint.duckdb")
    touchpoint(directory, "-q", "--db", database, "demo", "--no-serve", "--visitors", str(visitors))
    events = directory / "hostile.ndjson"
    events.write_text("".join(json.dumps(e) + "\n" for e in _hostile_events()))
    tasks = directory / "hostile-tasks.csv"
    # Quoted as Data Loader quotes: a quote inside a field is doubled.
    with tasks.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            [
                "Id",
                "CreatedDate",
                "bizible2__BizibleId__c",
                "bizible2__Bizible_Touchpoint_Date__c",
                "Type",
                "Subject",
                "IsDeleted",
                "LastModifiedDate",
            ]
        )
        # One call merges with the second visit, one comes two hours later.
        for call, created, at, modified in (
            (MERGED_CALL, "09:21", "09:20", "09:40"),
            (HOSTILE_CALL, "11:31", "11:30", "11:40"),
        ):
            writer.writerow(
                [
                    call,
                    f"2026-03-22T{created}:00.000+0000",
                    HOSTILE_VISITOR,
                    f"2026-03-22T{at}:00.000+0000",
                    "Inbound Call",
                    XSS_CAMPAIGN,
                    "false",
                    f"2026-03-22T{modified}:00.000+0000",
                ]
            )
    touchpoint(directory, "-q", "import", "events", str(events))
    touchpoint(directory, "-q", "import", "calls", str(tasks), "--format", "salesforce-csv")
    touchpoint(directory, "-q", "build")
    return directory
