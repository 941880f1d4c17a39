"""The settings object: `touchpoint.toml`, then `TOUCHPOINT_*` variables, then flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from touchpoint.config.salesforce import SalesforceSettings
from touchpoint.config.sections import (
    AttributionSettings,
    ChannelSettings,
    CollectorSettings,
    CrmSettings,
    IdentitySettings,
    MergeSettings,
    PhoneSettings,
    ServerSettings,
    SessionSettings,
    SiteSettings,
    SparkSettings,
    StoreSettings,
    VendorSettings,
    WebhookSettings,
)
from touchpoint.config.vendor_sync import CallRailSettings, CtmSettings
from touchpoint.errors import TouchpointError


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
    callrail: CallRailSettings = CallRailSettings()
    ctm: CtmSettings = CtmSettings()
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
