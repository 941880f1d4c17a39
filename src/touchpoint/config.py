"""One settings object: `touchpoint.toml`, then `TOUCHPOINT_*` variables, then flags.

Every field has a default and one line of help (its `description`), which the
`touchpoint settings` command and docs/configuration.md show.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from touchpoint.errors import TouchpointError

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """Read a duration such as ``30m``, ``1h30m``, ``7d`` or a number of seconds.

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    >>> parse_duration(90)
    datetime.timedelta(seconds=90)
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return timedelta(seconds=float(text))
        parts = _DURATION_PART.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))
    raise ValueError(f"{value!r} is not a duration like 30m, 1h30m or 7d")


def format_duration(value: timedelta) -> str:
    """Write a duration the way settings read it (``30m``, ``7d``, ``90s``).

    >>> format_duration(timedelta(minutes=90)), format_duration(timedelta(0))
    ('90m', '0s')
    """
    seconds = value.total_seconds()
    if seconds == 0:
        return "0s"
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SiteSettings(Section):
    domains: list[str] = Field(
        default_factory=list,
        description="The site's own domains: internal referrers (subdomains included) and CORS.",
    )
    timezone: str = Field("UTC", description="Time zone for date-only fields and report days.")
    currency: str = Field(
        "USD",
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code of opportunity amounts, for reports (e.g. USD, EUR).",
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


class ChannelSettings(Section):
    rules: str = Field(
        "",
        description="A CSV of channel rules (channel,subchannel,campaign,medium,source,landing_page,referrer).",
    )
    replace_defaults: bool = Field(
        False, description="Use only the rules file, without the GA4 default channel group."
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


class CollectorSettings(Section):
    max_body_bytes: int = Field(1_048_576, ge=1, description="Largest accepted request body.")
    max_events_per_batch: int = Field(500, ge=1, description="Most events in one request.")
    rate_limit_per_minute: int = Field(
        6000, ge=0, description="Requests per minute per client IP; 0 turns the limit off."
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
        False, description="Collect nothing from browsers that send Global Privacy Control."
    )
    store_ip: bool = Field(
        False, description="Keep the client IP with each event, truncated (IPv4 /24, IPv6 /48)."
    )
    drop_bots: bool = Field(
        True, description="Drop requests from known bots, crawlers and headless browsers."
    )
    intake_dir: str = Field(
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
    token: str = Field(
        "", description="Token for the dashboard and API; empty: generate one, print it at start."
    )
    public_url: str = Field(
        "", description="The server's address as the internet sees it (webhook signatures)."
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Proxies whose X-Forwarded-For names the client (comma-separated; * any).",
    )


class WebhookSettings(Section):
    callrail_secret: str = Field("", description="CallRail signing key.")
    ctm_secret: str = Field("", description="CallTrackingMetrics signing secret.")
    twilio_auth_token: str = Field("", description="Twilio auth token (signs status callbacks).")
    invoca_token: str = Field("", description="Secret token Invoca puts in the webhook URL.")
    replay_window: Duration = Field(
        timedelta(0),
        description="Refuse signed webhooks whose signing time (X-CTM-Time) is older; 0s: off.",
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


def _optional_duration(value: Any) -> str:
    """A duration setting where empty means off: kept as written, checked on load."""
    if isinstance(value, str) and not value.strip():
        return ""
    parsed = parse_duration(value)  # its ValueError names the bad value
    return value if isinstance(value, str) else format_duration(parsed)


SalesforceObject = Literal[
    "tasks", "leads", "contacts", "opportunities", "contact-roles", "campaign-members"
]
# What `touchpoint sync salesforce` can download, in the order it does.
SALESFORCE_OBJECTS: tuple[SalesforceObject, ...] = get_args(SalesforceObject)


class SalesforceSettings(Section):
    login_url: str = Field(
        "https://login.salesforce.com",
        description="OAuth token endpoint's base (your My Domain URL for client credentials).",
    )
    instance_url: str = Field("", description="With session_id: use an existing session.")
    session_id: str = Field("", description="An existing session id (with instance_url).")
    client_id: str = Field(
        "", description="Connected app's consumer key (client credentials and JWT bearer)."
    )
    client_secret: str = Field(
        "", description="Connected app's consumer secret (client credentials)."
    )
    # --- sync salesforce: JWT bearer, what to download, limits (touchpoint.sync) ---
    username: str = Field("", description="User the JWT bearer flow signs in as.")
    private_key_file: str = Field(
        "", description="PEM private key of the connected app's certificate (JWT bearer)."
    )
    private_key: str = Field(
        "", description="The same private key as PEM text, e.g. from an environment variable."
    )
    jwt_audience: str = Field(
        "",
        description="The JWT's aud (https://login.salesforce.com or https://test.salesforce.com); "
        "empty: login_url.",
    )
    objects: list[SalesforceObject] = Field(
        default_factory=lambda: list(SALESFORCE_OBJECTS),
        description="What sync downloads: tasks, leads, contacts, opportunities, contact-roles, "
        "campaign-members.",
    )
    api_limit_reserve: int = Field(
        1000,
        ge=0,
        description="Stop a sync cleanly when fewer API calls than this remain of the org's allowance.",
    )
    retries: int = Field(
        4, ge=0, le=20, description="Retries of a transient error (5xx, 429, dropped connection)."
    )
    retry_backoff: Duration = Field(
        timedelta(seconds=2), description="Wait before the first retry; it doubles each time."
    )
    # --- end of sync salesforce settings ---
    api_version: str = Field("61.0", description="REST API version.")
    ca_bundle: str = Field(
        "",
        description="PEM file of the CA certificates to trust for Salesforce instead of the usual ones.",
    )
    interval: Annotated[str, BeforeValidator(_optional_duration)] = Field(
        "", description='How often serve syncs and builds, e.g. "15m"; empty: never.'
    )
    visitor_id_field: str = Field(
        "bizible2__BizibleId__c", description="Task field holding the visitor id."
    )
    call_time_field: str = Field(
        "bizible2__Bizible_Touchpoint_Date__c",
        description="Task field holding the call time; CreatedDate when it is empty.",
    )
    caller_number_field: str = Field("", description="Task field with the caller's number, if any.")
    tracking_number_field: str = Field(
        "", description="Task field with the tracking number dialled, if any."
    )


class SparkSettings(Section):
    master: str = Field(
        "local[*]",
        description="Spark master for `build --engine spark` (local[N] or a cluster URL).",
    )
    staging_dir: str = Field(
        "", description="Where raw tables are staged as Parquet for Spark; empty: a temp directory."
    )
    shuffle_partitions: int = Field(
        8, ge=1, description="spark.sql.shuffle.partitions: raise it with the cluster's size."
    )


class StoreSettings(Section):
    memory_limit: str = Field("2GB", description="DuckDB memory limit for imports and builds.")
    threads: int = Field(0, ge=0, description="DuckDB threads; 0: one per core.")
    keep_snapshots: int = Field(3, ge=1, description="Published builds kept on disk.")


class Settings(BaseSettings):
    """Every setting touchpoint reads, frozen once loaded."""

    model_config = SettingsConfigDict(
        env_prefix="TOUCHPOINT_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    db: Path = Field(Path("touchpoint.duckdb"), description="The DuckDB store.")
    site: SiteSettings = SiteSettings()
    sessions: SessionSettings = SessionSettings()
    merge: MergeSettings = MergeSettings()
    channels: ChannelSettings = ChannelSettings()
    attribution: AttributionSettings = AttributionSettings()
    collector: CollectorSettings = CollectorSettings()
    server: ServerSettings = ServerSettings()
    webhooks: WebhookSettings = WebhookSettings()
    vendors: VendorSettings = VendorSettings()
    phone: PhoneSettings = PhoneSettings()
    identity: IdentitySettings = IdentitySettings()
    crm: CrmSettings = CrmSettings()
    salesforce: SalesforceSettings = SalesforceSettings()
    store: StoreSettings = StoreSettings()
    spark: SparkSettings = SparkSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Flags (init) win over the environment, which wins over the file.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def find_config(path: Path | None) -> Path | None:
    """The settings file to read: the flag, then TOUCHPOINT_CONFIG, then ./touchpoint.toml."""
    if path is not None:
        if not path.is_file():
            raise TouchpointError(f"settings file {path} does not exist")
        return path
    named = os.environ.get("TOUCHPOINT_CONFIG")
    if named:
        if not Path(named).is_file():
            raise TouchpointError(f"settings file {named} (TOUCHPOINT_CONFIG) does not exist")
        return Path(named)
    default = Path("touchpoint.toml")
    return default if default.is_file() else None


def load_settings(config: Path | None = None, **flags: Any) -> Settings:
    """Load settings from the file, the environment and the flags given (None = not given)."""
    path = find_config(config)
    overrides = {key: value for key, value in flags.items() if value is not None}

    class FileSettings(Settings):
        model_config = SettingsConfigDict(toml_file=path)

    try:
        return FileSettings(**overrides)
    except ValidationError as exc:
        raise TouchpointError(describe_validation_error(exc, path)) from None
    except ValueError as exc:  # a TOML syntax error surfaces as TOMLDecodeError (a ValueError)
        raise TouchpointError(f"settings file {path}: {exc}") from None


def describe_validation_error(exc: ValidationError, path: Path | None) -> str:
    """One line naming the first bad setting the way a user writes it."""
    first = exc.errors()[0]
    where = [str(part) for part in first["loc"]]
    name = f"[{where[0]}] {'.'.join(where[1:])}" if len(where) > 1 else where[0] if where else "?"
    origin = f" (from {path} or TOUCHPOINT_* variables)" if path else ""
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown setting"
    return f"setting {name}: {message}{origin}"


def describe_settings() -> list[tuple[str, str, str]]:
    """(name, default, help) for every setting, in file order, for docs and the CLI."""
    rows: list[tuple[str, str, str]] = []
    for section_name, section_field in Settings.model_fields.items():
        annotation = section_field.annotation
        if isinstance(annotation, type) and issubclass(annotation, Section):
            defaults = annotation().model_dump(mode="json")
            for name, field in annotation.model_fields.items():
                rows.append(
                    (f"{section_name}.{name}", _toml_value(defaults[name]), field.description or "")
                )
        else:
            default = section_field.default
            rows.append((section_name, _toml_value(str(default)), section_field.description or ""))
    return rows


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + ", ".join(pairs) + " }"
    return str(value)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)
