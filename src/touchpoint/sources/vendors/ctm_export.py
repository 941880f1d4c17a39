"""`--format ctm-csv`: the call log CallTrackingMetrics' web app exports (Activity → Export).

The export names its columns for people and writes times on the account's clock:
`Called At` or `Date` (`2026-01-19 12:00 PM -05:00`, `2026-03-31 14:05`,
`03/31/2026 02:05 PM`), `Caller Number`, `Tracking Number`, `Duration` / `Talk
Time` in seconds (or `3:04`), `Direction` (inbound, outbound; `form`,
`msg_inbound` and `msg_outbound` for forms and texts), `Status` / `Dial Status`
(answered, no-answer, busy, failed, canceled, voicemail), the source CTM assigned
(`Source`, `Medium`, `Campaign`, `Keyword`), the visit (`Landing Page` or
`Location`, `Referrer`), `Value` / `Sale Value`, `Tags`, `Spam`. `Receiving
Number` is the business's own line, not the number dialled. Which columns an
export has depends on the columns chosen in the app; every label is matched
case-insensitively (`ui_export`).

`CTM_EXPORT` is the `CallFile` that `ctm.CTM` lists.
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
    source_system="ctm",
    vendor="CallTrackingMetrics",
    title="CallTrackingMetrics' call log export",
    columns=ExportColumns(
        start=("Called At", "Call Date", "Date", "Start Time", "Date/Time"),
        time=("Time", "Call Time"),
        call_id=("ID", "Call ID", "Activity ID"),
        caller=("Caller Number", "Caller", "Caller ID", "Caller Phone", "From"),
        tracking=("Tracking Number", "Tracking #", "To"),
        duration=("Duration", "Talk Time", "Call Duration"),
        direction=("Direction", "Call Direction"),
        kind=("Type", "Activity Type", "Activity"),
        status=("Status", "Call Status", "Dial Status"),
        first_time=("First Time Caller", "New Caller", "First Call", "Is New Caller"),
        value=("Value", "Sale Value", "Sale Amount", "Revenue"),
        lead_status=("Lead Status", "Sale Status", "Sale"),
        spam=("Spam", "Is Spam"),
        label=("Source", "Tracking Source"),
        term=("Keyword", "Keywords", "Search", "UTM Term"),
        landing_page=("Landing Page", "Location", "Landing Page URL"),
        referrer=("Referrer", "Referring URL", "Referral"),
        other=(
            "Receiving Number",
            "Tracking Label",
            "Tracking Number Name",
            "Caller Name",
            "Name",
            "City",
            "State",
            "Country",
            "Postal Code",
            "Agent",
            "Recording",
            "Audio",
            "Notes",
            "Ring Time",
            "Hold Time",
            "SID",
        ),
    ),
    visitor_setting="ctm_visitor_id_fields",
    texts=("text", "sms", "msg", "message", "msg_inbound", "msg_outbound"),
)

CTM_EXPORT = CallFile("ctm-csv", "csv", reader=export_reader(FORMAT), row=export_row(FORMAT))
