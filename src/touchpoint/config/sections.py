"""The sections of the settings (`[site]`, `[merge]`, ...): each field with its default
and one line of help."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from touchpoint.config.durations import Duration, RetentionPeriod


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Secret:
    """Marks a setting that holds a credential: `touchpoint settings` shows it as •••,
    and the settings kept with a build leave it out."""


# A setting that holds a credential (or says where one is): text, marked secret.
Credential = Annotated[str, Secret()]


class FileLocation:
    """Marks a setting that names a file or folder: relative in a settings file, it is
    read from that file's folder."""


# A file or folder; empty where the setting says what empty means.
LocalPath = Annotated[str, FileLocation()]
# A file that holds a credential.
CredentialFile = Annotated[str, Secret(), FileLocation()]


def _known_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (an IANA name like Europe/Berlin or America/New_York)"
        ) from None
    return name


TimeZone = Annotated[str, AfterValidator(_known_time_zone)]


class SiteSettings(Section):
    domains: list[str] = Field(
        default_factory=list,
        description="The site's own domains: internal referrers (subdomains included) and CORS.",
    )
    timezone: TimeZone = Field("UTC", description="Time zone for date-only fields and report days.")
    currency: str = Field(
        "USD",
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code of opportunity amounts, for reports (e.g. USD, EUR).",
    )
    date_order: Literal["auto", "day-first", "month-first"] = Field(
        "auto",
        description="How to read a date like 03/04/2026 in a file (web-app call exports): "
        "auto: as the file's other dates show (31/03/2026), else as the app writes them.",
    )


class SessionSettings(Section):
    timeout: Duration = Field(timedelta(minutes=30), description="Inactivity that ends a session.")


class MergeSettings(Section):
    window: Duration = Field(
        timedelta(minutes=30),
        description="Longest gap, inclusive, from the anchor to a call that still merges.",
    )
    anchor: Literal["session_start", "last_activity"] = Field(
        "session_start",
        description="Measure the gap from the session's start or from its last event before the call.",
    )
    vendor_fallback: bool = Field(
        True,
        description="A call with no visitor id but the vendor's own attribution gets a "
        "standalone touchpoint (attribution_basis vendor); false: no touchpoint.",
    )


class CallSettings(Section):
    """`[calls]`: which calls, texts and forms count (DESIGN §12); the rules run in this order."""

    exclude_outbound: bool = Field(True, description="Outbound calls do not count.")
    exclude_spam: bool = Field(True, description="Calls the vendor marked as spam do not count.")
    min_duration: Duration = Field(
        timedelta(0), description="Calls shorter than this do not count (0s: any length)."
    )
    answered_only: bool = Field(
        False, description="Only answered calls count (missed, voicemail, ... do not)."
    )
    first_time_only: bool = Field(
        False, description="Only first-time callers count (the vendor's first_time_caller)."
    )
    lead_statuses: list[str] = Field(
        default_factory=list,
        description="Only calls with one of these vendor lead statuses count (any case; empty: any).",
    )


class ChannelSettings(Section):
    rules: LocalPath = Field(
        "",
        description="A CSV of channel rules (channel,subchannel,campaign,medium,source,landing_page,referrer).",
    )
    replace_defaults: bool = Field(
        False, description="Use only the rules file, without the GA4 default channel group."
    )
    manual_tags_override: bool = Field(
        False,
        description="utm_source / utm_medium win over Google's click ids (gclid, gbraid, wbraid).",
    )


class CustomShares(Section):
    """`[attribution.custom]`: the custom model's shares in percent, adding up to 100."""

    ft: float = Field(22.5, ge=0, le=100, description="Share of the first touch (FT).")
    lc: float = Field(22.5, ge=0, le=100, description="Share of the lead-creation touch (LC).")
    oc: float = Field(22.5, ge=0, le=100, description="Share of the opportunity-creation touch.")
    closed: float = Field(22.5, ge=0, le=100, description="Share of the touch at close (Closed).")
    middle: float = Field(10, ge=0, le=100, description="Shared equally by the other touches.")

    @model_validator(mode="after")
    def _adds_up_to_100(self) -> CustomShares:
        total = self.ft + self.lc + self.oc + self.closed + self.middle
        if abs(total - 100) > 1e-9:
            raise ValueError(f"the custom shares add up to {total:g}, not 100")
        return self


class AttributionSettings(Section):
    half_life: Duration = Field(
        timedelta(days=7), description="Time decay: a touch's weight halves per this much age."
    )
    amount_field: str = Field("Amount", description="Opportunity field that holds revenue.")
    opportunity_contacts: Literal["account", "contact_role", "primary_contact_role"] = Field(
        "account",
        description="Which people's touchpoints an opportunity gets: its account's contacts, "
        "its contact roles, or its primary contact role.",
    )
    markov_order: int = Field(
        1, ge=1, le=4, description="Markov model order (how many channels a state remembers)."
    )
    custom: CustomShares = Field(
        default_factory=CustomShares,
        description="The custom model's shares (FT, LC, OC, Closed, middle).",
    )


class IdentitySettings(Section):
    max_visitors_per_phone: int = Field(
        3,
        ge=1,
        description="A caller number called from by more visitor ids than this joins no one.",
    )


# Salesforce's standard Campaign Type values; other types get `Unassigned`.
DEFAULT_CAMPAIGN_CHANNELS = {
    "Advertisement": "Advertising",
    "Banner Ads": "Display",
    "Conference": "Events",
    "Seminar / Conference": "Events",
    "Trade Show": "Events",
    "Webinar": "Webinar",
    "Direct Mail": "Direct Mail",
    "Email": "Email",
    "Partners": "Partners",
    "Referral Program": "Referral",
    "Public Relations": "PR",
    "Telemarketing": "Telemarketing",
}


class CrmSettings(Section):
    campaign_channels: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_CAMPAIGN_CHANNELS),
        description="Channel of a CRM campaign response, by Campaign.Type (any case).",
    )


# DESIGN §16: query parameters that name a person or a secret, removed by default.
DROP_PARAMS = ("email", "e-mail", "password", "pass", "pw", "token", "code", "phone", "ssn")


class CollectorSettings(Section):
    max_body_bytes: int = Field(1_048_576, ge=1, description="Largest accepted request body.")
    max_events_per_batch: int = Field(500, ge=1, description="Most events in one request.")
    rate_limit_per_minute: int = Field(
        6000, ge=0, description="Requests per minute per client (IPv6: per /64); 0 turns it off."
    )
    max_bytes_per_minute: int = Field(
        4 * 1024 * 1024,
        ge=0,
        description="Body bytes per minute per client (IPv6: per /64), collector and webhooks; 0: off.",
    )
    cookie_name: str = Field(
        "_tp_uid",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="The visitor cookie the snippet sets (e.g. _biz_uid, as Marketo Measure).",
    )
    cookie_domain: str = Field(
        "",
        pattern=r"^[A-Za-z0-9.-]*$",
        description="Cookie domain, e.g. example.com for all subdomains; empty: the page's host.",
    )
    honor_gpc: bool = Field(
        True, description="Collect nothing from browsers that send Global Privacy Control."
    )
    honor_dnt: bool = Field(
        True, description="Collect nothing from browsers that send Do Not Track (DNT: 1)."
    )
    store_user_agent: bool = Field(
        False,
        description="Keep the full user agent; off: only its browser, OS and device class.",
    )
    drop_params: list[str] = Field(
        default_factory=lambda: list(DROP_PARAMS),
        description="Query parameters removed from url and referrer before anything is kept (any case).",
    )
    max_clock_skew: Duration = Field(
        timedelta(minutes=10),
        description="A collected event's time further than this from its arrival takes the arrival time; 0s: off.",
    )
    store_ip: bool = Field(
        False, description="Keep the client IP with each event, truncated (IPv4 /24, IPv6 /48)."
    )
    drop_bots: bool = Field(
        True, description="Drop requests from known bots, crawlers and headless browsers."
    )
    intake_dir: LocalPath = Field(
        "", description="Directory of the intake log; empty: <db>.intake beside the store."
    )
    segment_max_age: Duration = Field(
        timedelta(seconds=10),
        description="How long a log segment takes events before it closes and a build can load it.",
    )
    segment_max_bytes: int = Field(
        64 * 1024 * 1024, ge=4096, le=1024**3, description="Size at which a log segment closes."
    )
    log_retention: Duration = Field(
        timedelta(days=3), description="How long loaded log segments are kept before removal."
    )


class ServerSettings(Section):
    token: Credential = Field(
        "",
        description="Token for the dashboard and API, 24 characters or more; empty: serve makes one.",
    )
    public_url: str = Field(
        "", description="The server's address as the internet sees it (webhook signatures)."
    )
    header_timeout: Duration = Field(
        timedelta(seconds=10),
        description="A request whose headers are not all in by then is answered 408 and closed; 0s: off.",
    )
    body_timeout: Duration = Field(
        timedelta(seconds=30),
        description="A request whose body is not all in this long after its headers gets 408; 0s: off.",
    )
    max_connections_per_client: int = Field(
        50,
        ge=0,
        description="Open connections, and requests in flight, per client (IPv6: per /64); 0: no cap.",
    )
    max_connections: int = Field(
        1000, ge=1, description="Connections and requests at once in all; beyond, requests get 503."
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Proxies whose X-Forwarded-For names the client (comma-separated; * any).",
    )
    session_ttl: Duration = Field(
        timedelta(hours=12),
        gt=timedelta(0),
        description="How long a dashboard sign-in lasts; the server refuses older cookies.",
    )


class WebhookSettings(Section):
    callrail_secret: Credential = Field("", description="CallRail signing key.")
    ctm_secret: Credential = Field("", description="CallTrackingMetrics signing secret.")
    twilio_auth_token: Credential = Field(
        "", description="Twilio auth token (signs status callbacks)."
    )
    invoca_token: Credential = Field("", description="Secret token Invoca puts in the webhook URL.")
    replay_window: Duration = Field(
        timedelta(minutes=5),
        description="Refuse CTM webhooks signed (X-CTM-Time) longer ago or ahead than this; 0s: off.",
    )


class VendorSettings(Section):
    """`[vendors]`: where each call-tracking vendor's record carries the visitor id."""

    ctm_visitor_id_fields: list[str] = Field(
        default_factory=lambda: ["custom_fields.tp_uid", "custom_fields.bizible_id"],
        description="CallTrackingMetrics call fields holding the visitor id, first found wins.",
    )
    callrail_visitor_id_fields: list[str] = Field(
        default_factory=lambda: ["custom_fields.tp_uid", "custom_fields.bizible_id"],
        description="CallRail call fields holding the visitor id, first found wins.",
    )
    invoca_visitor_id_params: list[str] = Field(
        default_factory=lambda: ["tp_uid", "bizible_id"],
        description="Invoca RingPool parameter names whose value is the visitor id, first found wins.",
    )


class PhoneSettings(Section):
    default_region: str = Field("US", description="Region for phone numbers written without +.")


class SparkSettings(Section):
    master: str = Field(
        "local[*]",
        description="Spark master for `build --engine spark` (local[N] or a cluster URL).",
    )
    staging_dir: LocalPath = Field(
        "", description="Where raw tables are staged as Parquet for Spark; empty: a temp directory."
    )
    shuffle_partitions: int = Field(
        8, ge=1, description="spark.sql.shuffle.partitions: raise it with the cluster's size."
    )


class StoreSettings(Section):
    memory_limit: str = Field("2GB", description="DuckDB memory limit for imports and builds.")
    threads: int = Field(0, ge=0, description="DuckDB threads; 0: one per core.")
    keep_snapshots: int = Field(3, ge=1, description="Published builds kept on disk.")


class RetentionSettings(Section):
    """`[retention]` (DESIGN §16): how long raw records are kept; older ones are deleted
    at build, measured against the wall clock. `forever` (or `0s`) keeps them."""

    events: RetentionPeriod = Field(
        "25 months",
        description="Web events, by occurred_at (months, years, a duration or forever).",
    )
    calls: RetentionPeriod = Field(
        "25 months",
        description="Call records, by call time: as long as the visits they are merged with.",
    )
    rejects: RetentionPeriod = Field(
        "90d",
        description="Rejected records, by when they were rejected: time to fix and re-import.",
    )
