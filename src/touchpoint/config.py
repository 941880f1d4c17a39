"""One settings object: `touchpoint.toml`, then `TOUCHPOINT_*` variables, then flags.

Every field has a default and one line of help (its `description`), which the
`touchpoint settings` command and docs/configuration.md show.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError
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
    """Write a duration the way settings read it (``30m``, ``7d``, ``90s``)."""
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds}s"


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


class SessionSettings(Section):
    timeout: Duration = Field(
        timedelta(minutes=30), description="Inactivity that ends a session."
    )


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


class AttributionSettings(Section):
    half_life: Duration = Field(
        timedelta(days=7), description="Time decay: a touch's weight halves per this much age."
    )
    amount_field: str = Field("Amount", description="Opportunity field that holds revenue.")


class CollectorSettings(Section):
    max_body_bytes: int = Field(1_048_576, ge=1, description="Largest accepted request body.")
    max_events_per_batch: int = Field(500, ge=1, description="Most events in one request.")
    rate_limit_per_minute: int = Field(
        6000, ge=0, description="Requests per minute per client IP; 0 turns the limit off."
    )


class ServerSettings(Section):
    token: str = Field(
        "", description="Token for the dashboard and API; empty: generate one, print it at start."
    )
    public_url: str = Field(
        "", description="The server's address as the internet sees it (webhook signatures)."
    )


class WebhookSettings(Section):
    callrail_secret: str = Field("", description="CallRail signing key.")
    ctm_secret: str = Field("", description="CallTrackingMetrics signing secret.")
    twilio_auth_token: str = Field("", description="Twilio auth token (signs status callbacks).")
    invoca_token: str = Field("", description="Secret token Invoca puts in the webhook URL.")


class PhoneSettings(Section):
    default_region: str = Field("US", description="Region for phone numbers written without +.")


class SalesforceSettings(Section):
    login_url: str = Field(
        "https://login.salesforce.com", description="OAuth token endpoint's base."
    )
    instance_url: str = Field("", description="With session_id: use an existing session.")
    session_id: str = Field("", description="An existing session id (with instance_url).")
    client_id: str = Field("", description="OAuth client-credentials id.")
    client_secret: str = Field("", description="OAuth client-credentials secret.")
    api_version: str = Field("61.0", description="REST API version.")
    ca_bundle: str = Field("", description="Extra CA certificates to trust.")
    interval: str = Field("", description='How often serve syncs and builds, e.g. "15m"; empty: never.')
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
    phone: PhoneSettings = PhoneSettings()
    salesforce: SalesforceSettings = SalesforceSettings()
    store: StoreSettings = StoreSettings()

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
    message = first["msg"]
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
    return str(value)
