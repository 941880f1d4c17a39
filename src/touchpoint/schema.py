"""Column layouts: the raw tables importers fill and the output tables of DESIGN §8.

Times are kept twice in raw tables: as a UTC timestamp for output and as whole
microseconds since the epoch (`*_us`) for arithmetic, so that gaps are exact
integers on every backend.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us")  # naive, always UTC

RAW_EVENTS = pa.schema(
    [
        ("event_id", pa.string()),
        ("visitor_id", pa.string()),
        ("type", pa.string()),
        ("occurred_at", TS),
        ("occurred_us", pa.int64()),
        ("url", pa.string()),
        ("referrer", pa.string()),
        ("title", pa.string()),
        ("email", pa.string()),
        ("user_agent", pa.string()),
        ("properties", pa.string()),
        ("page_host", pa.string()),
        ("page_path", pa.string()),
        ("referrer_host", pa.string()),
        ("utm_source", pa.string()),
        ("utm_medium", pa.string()),
        ("utm_campaign", pa.string()),
        ("utm_content", pa.string()),
        ("utm_term", pa.string()),
        ("click_id", pa.string()),
        ("click_id_param", pa.string()),
        ("client_ip", pa.string()),
        ("received_at", TS),
        ("origin", pa.string()),
        # DESIGN §16: what is kept of the user agent instead of the full string
        # (`user_agent` stays NULL unless `[collector] store_user_agent`).
        ("browser", pa.string()),
        ("os", pa.string()),
        ("device", pa.string()),  # desktop, mobile, tablet, bot, other
        # The time a collected event said it happened, when that lay outside
        # `[collector] max_clock_skew` of its arrival and `occurred_at` took the
        # arrival time instead; NULL otherwise (and for imports).
        ("sent_occurred_at", TS),
    ]
)

RAW_CALLS = pa.schema(
    [
        ("source_system", pa.string()),
        ("call_id", pa.string()),
        ("external_id", pa.string()),
        ("visitor_id", pa.string()),
        ("called_at", TS),
        ("called_us", pa.int64()),
        ("activity_type", pa.string()),
        ("subject", pa.string()),
        ("caller_number", pa.string()),
        ("tracking_number", pa.string()),
        ("duration_s", pa.int64()),
        ("who_id", pa.string()),
        ("what_id", pa.string()),
        ("call_type", pa.string()),
        ("is_deleted", pa.bool_()),
        ("version_us", pa.int64()),
        ("vendor_source", pa.string()),
        ("vendor_medium", pa.string()),
        ("vendor_campaign", pa.string()),
        ("vendor_content", pa.string()),
        ("vendor_term", pa.string()),
        ("vendor_click_id", pa.string()),
        ("vendor_click_id_param", pa.string()),
        ("vendor_landing_page", pa.string()),
        ("vendor_referrer", pa.string()),
        ("record", pa.string()),
        ("record_hash", pa.string()),
        ("received_at", TS),
        ("origin", pa.string()),
        # What the vendor's record says about the visit, read once on arrival (hosts
        # lower-case, as enrich.host_of gives them): the stage classifies referrers.
        ("vendor_referrer_host", pa.string()),
        ("vendor_landing_host", pa.string()),
        # DESIGN §12: what the source says the record is and how the call went.
        ("kind", pa.string()),  # call, text, form
        ("direction", pa.string()),  # inbound, outbound
        ("status", pa.string()),  # answered, missed, voicemail, abandoned, busy, failed
        ("first_time_caller", pa.bool_()),
        ("value", pa.float64()),
        ("lead_status", pa.string()),
        ("tags", pa.string()),  # comma joined
        ("spam", pa.bool_()),
        # The numbers as the source wrote them: the build makes them E.164 with
        # `[phone] default_region` (DESIGN §11).
        ("caller_number_raw", pa.string()),
        ("tracking_number_raw", pa.string()),
    ]
)

REJECTS = pa.schema(
    [
        ("source", pa.string()),
        ("record", pa.string()),
        ("reason", pa.string()),
        ("rejected_at", TS),
        ("kind", pa.string()),
        ("record_hash", pa.string()),
    ]
)

# Salesforce CRM records (DESIGN §7), one table per object. Every version is kept
# (`record_hash` is the key); the crm stage takes the latest `version_us` per `id`.
_CRM_TAIL = [
    ("is_deleted", pa.bool_()),
    ("version_us", pa.int64()),
    ("record", pa.string()),
    ("record_hash", pa.string()),
    ("received_at", TS),
    ("origin", pa.string()),
]

RAW_LEADS = pa.schema(
    [
        ("id", pa.string()),
        ("email", pa.string()),
        ("phone", pa.string()),
        ("created_at", TS),
        ("created_us", pa.int64()),
        ("is_converted", pa.bool_()),
        ("converted_contact_id", pa.string()),
        ("converted_account_id", pa.string()),
        ("converted_opportunity_id", pa.string()),
        *_CRM_TAIL,
    ]
)

RAW_CONTACTS = pa.schema(
    [
        ("id", pa.string()),
        ("email", pa.string()),
        ("phone", pa.string()),
        ("account_id", pa.string()),
        ("created_at", TS),
        ("created_us", pa.int64()),
        *_CRM_TAIL,
    ]
)

RAW_OPPORTUNITIES = pa.schema(
    [
        ("id", pa.string()),
        ("account_id", pa.string()),
        ("name", pa.string()),
        ("amount", pa.float64()),
        ("created_at", TS),
        ("created_us", pa.int64()),
        ("close_date", pa.string()),  # as written: a date, or a date and time
        ("close_us", pa.int64()),  # the last microsecond of that day in [site] timezone
        ("is_closed", pa.bool_()),
        ("is_won", pa.bool_()),
        ("stage_name", pa.string()),
        *_CRM_TAIL,
    ]
)

RAW_CONTACT_ROLES = pa.schema(
    [
        ("id", pa.string()),
        ("opportunity_id", pa.string()),
        ("contact_id", pa.string()),
        ("is_primary", pa.bool_()),
        ("role", pa.string()),
        *_CRM_TAIL,
    ]
)

RAW_CAMPAIGN_MEMBERS = pa.schema(
    [
        ("id", pa.string()),
        ("campaign_id", pa.string()),
        ("lead_id", pa.string()),
        ("contact_id", pa.string()),
        ("created_at", TS),
        ("created_us", pa.int64()),
        ("has_responded", pa.bool_()),
        ("responded_at", TS),
        ("responded_us", pa.int64()),
        ("campaign_name", pa.string()),
        ("campaign_type", pa.string()),
        *_CRM_TAIL,
    ]
)

# `import crm --kind K` → the raw table it fills.
CRM_TABLES: dict[str, str] = {
    "leads": "raw_leads",
    "contacts": "raw_contacts",
    "opportunities": "raw_opportunities",
    "contact-roles": "raw_contact_roles",
    "campaign-members": "raw_campaign_members",
}

# DESIGN §15: a visitor's hold of a pool number [assigned_at, held_until], a row per
# `POST /numbers` answer (a renewal too; the build merges them); key assignment_id.
RAW_NUMBER_ASSIGNMENTS = pa.schema(
    [(name, pa.string()) for name in ("assignment_id", "pool", "number", "visitor_id")]
    + [("assigned_at", TS), ("assigned_us", pa.int64())]
    + [("held_until", TS), ("held_until_us", pa.int64()), ("fallback", pa.bool_())]
    + [("channel", pa.string()), ("received_at", TS), ("origin", pa.string())]
)

RAW_TABLES: dict[str, pa.Schema] = {
    "raw_events": RAW_EVENTS,
    "raw_calls": RAW_CALLS,
    "rejects": REJECTS,
    "raw_leads": RAW_LEADS,
    "raw_contacts": RAW_CONTACTS,
    "raw_opportunities": RAW_OPPORTUNITIES,
    "raw_contact_roles": RAW_CONTACT_ROLES,
    "raw_campaign_members": RAW_CAMPAIGN_MEMBERS,
    "raw_number_assignments": RAW_NUMBER_ASSIGNMENTS,
}

# DESIGN §8: the columns of each output table, in this order; more may follow (the
# stages keep what later stages read after them).
EVENT_COLUMNS = ("event_id", "visitor_id", "type", "occurred_at", "url", "referrer")
SESSION_COLUMNS = (
    "session_id",
    "visitor_id",
    "started_at",
    "last_activity_at",
    "landing_page",
    "referrer",
    "channel",
    "subchannel",
    "source",
    "medium",
    "campaign",
    "content",
    "term",
    "click_id",
    "page_views",
)
# A call as its source records it (what `calls-csv` reads back from an export) ...
CALL_RECORD_COLUMNS = (
    "call_id",
    "source_system",
    "external_id",
    "visitor_id",
    "called_at",
    "activity_type",
    "caller_number",
    "tracking_number",
    "duration_s",
)
# ... and what the build finds out about it.
CALL_BINDING_COLUMNS = (
    "outcome",
    "session_id",
    "seconds_from_session_start",
    "touchpoint_id",
    "attribution_basis",
)
# DESIGN §12, at the end: what the source says about the call ...
CALL_VENDOR_COLUMNS = (
    "kind",
    "direction",
    "status",
    "first_time_caller",
    "value",
    "lead_status",
    "tags",
    "spam",
)
# ... and whether it counts under the `[calls]` rules.
CALL_QUALIFICATION_COLUMNS = ("qualified", "disqualified_reason")
# DESIGN §15, at the end: the pool of the number the caller dialled, how the call found
# its visitor by that number (`stages.numbers`) and among how many visitors.
CALL_NUMBER_COLUMNS = ("number_pool", "number_match", "match_candidates")
CALL_COLUMNS = (
    *CALL_RECORD_COLUMNS,
    *CALL_BINDING_COLUMNS,
    *CALL_VENDOR_COLUMNS,
    *CALL_QUALIFICATION_COLUMNS,
    *CALL_NUMBER_COLUMNS,
)
TOUCHPOINT_COLUMNS = (
    "touchpoint_id",
    "person_id",
    "visitor_id",
    "touchpoint_date",
    "touchpoint_type",
    "medium",
    "source",
    "channel",
    "subchannel",
    "campaign",
    "landing_page",
    "referrer",
    "session_id",
    "call_id",
    "positions",
    "attribution_basis",
)
ATTRIBUTION_COLUMNS = (
    "touchpoint_id",
    "conversion_id",
    "conversion_type",
    "model",
    "weight",
    "revenue",
    "channel",
    "positions",
)
REJECT_COLUMNS = ("source", "record", "reason", "rejected_at")

OUTPUT_COLUMNS: dict[str, tuple[str, ...]] = {
    "events": EVENT_COLUMNS,
    "sessions": SESSION_COLUMNS,
    "calls": CALL_COLUMNS,
    "touchpoints": TOUCHPOINT_COLUMNS,
    "attribution": ATTRIBUTION_COLUMNS,
    "rejects": REJECT_COLUMNS,
}

EXPORT_TABLES = tuple(OUTPUT_COLUMNS)
# Every table `touchpoint export` writes: those, people, journeys, the CRM records as the
# build keeps them (`leads`, ...), then the raw tables.
EXPORTABLE_TABLES = (
    *EXPORT_TABLES,
    "people",
    "journeys",
    *(raw.removeprefix("raw_") for raw in CRM_TABLES.values()),
    *(name for name in RAW_TABLES if name.startswith("raw_")),
)


def duckdb_type(arrow_type: pa.DataType) -> str:
    """The DuckDB column type that holds an Arrow type of these schemas."""
    if arrow_type == TS:
        return "TIMESTAMP"
    if pa.types.is_int64(arrow_type):
        return "BIGINT"
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_float64(arrow_type):
        return "DOUBLE"
    return "VARCHAR"
