"""European dates in a CRM export saved again by Excel: `CloseDate` and
`FirstRespondedDate` written `31.03.2026` (German Excel) or `31/03/2026` land as that
day in `[site] timezone`, through the real `import crm` and `build`; a day that could
be either order (`03/04/2026`) is a reject with its reason, never a guess."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_touchpoint

BERLIN = {"TOUCHPOINT_SITE__TIMEZONE": "Europe/Berlin"}
OPPORTUNITIES = (
    "Id;AccountId;Name;Amount;CreatedDate;CloseDate;IsClosed;IsWon;StageName\r\n"
    "0065e00000AbCdE;0015e00000AbCdE;Boiler;1200;2026-03-01T10:00:00.000+0000;31.03.2026;"
    "true;true;Closed Won\r\n"
    "0065e00000AbCdF;0015e00000AbCdE;Pump;300;2026-03-01T10:00:00.000+0000;03/04/2026;"
    "false;false;Open\r\n"
    "0065e00000AbCdG;0015e00000AbCdE;Tank;300;2026-03-01T10:00:00.000+0000;13/04/2026;"
    "false;false;Open\r\n"
)
MEMBERS = (
    "Id,CampaignId,LeadId,ContactId,CreatedDate,HasResponded,FirstRespondedDate\r\n"
    "00v5e00000AbCdE,7015e00000AbCdE,00Q5e00000AbCdE,,2026-03-31T08:30:00.000+0000,true,"
    "31.03.2026\r\n"
    "00v5e00000AbCdF,7015e00000AbCdE,00Q5e00000AbCdF,,2026-03-20T08:30:00.000+0000,true,"
    "04/25/2026\r\n"
)


def _exported(directory: Path, table: str) -> dict[str, dict]:
    result = run_touchpoint(directory, "export", table, "--format", "json")
    assert result.code == 0, result.stderr
    return {row["id"]: row for row in map(json.loads, result.stdout.splitlines())}


def test_day_first_close_and_response_dates_land_as_that_day(tmp_path: Path) -> None:
    (tmp_path / "opportunities.csv").write_text(OPPORTUNITIES, encoding="utf-8")
    (tmp_path / "members.csv").write_text(MEMBERS, encoding="utf-8")
    imported = run_touchpoint(
        tmp_path, "import", "crm", "opportunities.csv", "--kind", "opportunities", env=BERLIN
    )
    assert imported.code == 0, imported.stderr
    shown = imported.stdout + imported.stderr
    assert "CloseDate '03/04/2026' could be day-first or month-first" in shown
    members = run_touchpoint(
        tmp_path, "import", "crm", "members.csv", "--kind", "campaign-members", env=BERLIN
    )
    assert members.code == 0, members.stderr
    assert run_touchpoint(tmp_path, "build", env=BERLIN).code == 0
    opportunities = _exported(tmp_path, "opportunities")
    assert set(opportunities) == {"0065e00000AbCdEAAV", "0065e00000AbCdGAAV"}
    # The end of the 31st of March in Berlin (CEST): 21:59:59.999999 UTC.
    assert opportunities["0065e00000AbCdEAAV"]["close_us"] == 1_774_994_399_999_999
    assert opportunities["0065e00000AbCdGAAV"]["close_us"] == 1_776_117_599_999_999  # 13 April
    responses = _exported(tmp_path, "raw_campaign_members")
    # Created on the day it responded: the creation time; else the day's start in Berlin.
    assert responses["00v5e00000AbCdEAAV"]["responded_at"] == "2026-03-31T08:30:00Z"
    assert responses["00v5e00000AbCdFAAV"]["responded_at"] == "2026-04-24T22:00:00Z"
