"""`--format callrail-csv`: the call log CallRail's web app exports (Calls → Export, CSV).

The export names its columns for people and writes times on the account's clock:
`Start Time` (`2026-03-31 14:05`, or `03/31/2026 02:05 PM`), the caller in
`Customer Phone Number` (or `Phone Number`), the number dialled in `Tracking
Number`, `Duration` in seconds (or `3:04`), `Call Status` (Answered Call, Missed
Call, Voicemail, Abandoned Call), `First Call`, `Value`, `Lead Status`, `Tags`, and
the visit: `Source` (CallRail's marketing source, "Google Paid"), `Medium`,
`Campaign`, `Keywords`, `Landing Page`, `Referrer`, click ids (`gclid`). The
activity export also lists text messages and form submissions (`Type`): they land
as `kind` text or form. `Number Name` / `Source Name` name the tracking number,
never the source (DESIGN §12). Which columns an export has depends on the columns
chosen in the app; every label is matched case-insensitively (`ui_export`).

`CALLRAIL_EXPORT` is the `CallFile` that `callrail.CALLRAIL` lists.
"""

from __future__ import annotations

from touchpoint.sources.vendors.ui_export import (
    ExportColumns,
    ExportFormat,
    export_reader,
    export_row,
)
from touchpoint.sources.vendors.vendor import CallFile

FORMAT = ExportFormat(
    source_system="callrail",
    vendor="CallRail",
    title="CallRail's call log export",
    columns=ExportColumns(
        start=("Start Time", "Call Start Time", "Date/Time", "Date Time", "Date", "Call Date"),
        time=("Time", "Call Time"),
        call_id=("Call ID", "Id", "Resource ID", "Call Id"),
        caller=(
            "Customer Phone Number",
            "Phone Number",
            "Caller Number",
            "Caller Phone Number",
            "Customer Number",
        ),
        tracking=("Tracking Number", "Tracking Phone Number"),
        duration=("Duration (seconds)", "Duration", "Call Duration", "Talk Time"),
        direction=("Direction", "Call Direction"),
        kind=("Type", "Activity Type", "Interaction Type", "Call Type"),
        value=("Value", "Call Value", "Lead Value"),
        label=("Source", "Marketing Source", "Tracking Source"),
        landing_page=("Landing Page", "Landing Page URL", "Landing Page Url"),
        referrer=("Referrer", "Referring URL", "Referrer Domain", "Referral"),
        other=(
            "Number Name",
            "Source Name",
            "Customer Name",
            "Customer City",
            "Customer State",
            "Customer Country",
            "Company",
            "Company Name",
            "Agent",
            "Agent Name",
            "Recording",
            "Recording URL",
            "Note",
            "Notes",
            "Device Type",
            "Keyword Match Type",
            "Business Phone Number",
            "Receiving Number",
            "Transcription",
        ),
    ),
    visitor_setting="callrail_visitor_id_fields",
)

CALLRAIL_EXPORT = CallFile(
    "callrail-csv", "csv", reader=export_reader(FORMAT), row=export_row(FORMAT)
)
