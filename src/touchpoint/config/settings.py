"""The settings object: `touchpoint.toml`, then `TOUCHPOINT_*` variables, then flags."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from touchpoint.config.destinations import DestinationsSettings
from touchpoint.config.numbers import NumbersInRegion, NumbersSettings
from touchpoint.config.salesforce import SalesforceSettings
from touchpoint.config.sections import (
    AttributionSettings,
    CallSettings,
    ChannelSettings,
    CollectorSettings,
    CrmSettings,
    FileLocation,
    IdentitySettings,
    MergeSettings,
    PhoneSettings,
    RetentionSettings,
    ServerSettings,
    SessionSettings,
    SiteSettings,
    SparkSettings,
    StoreSettings,
    VendorSettings,
    WebhookSettings,
)
from touchpoint.config.sources import Origin, check_environment, origins, read_config_file
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

    db: Annotated[Path, FileLocation()] = Field(
        Path("touchpoint.duckdb"), description="The DuckDB store."
    )
    site: SiteSettings = SiteSettings()
    sessions: SessionSettings = SessionSettings()
    merge: MergeSettings = MergeSettings()
    calls: CallSettings = CallSettings()
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
    destinations: DestinationsSettings = DestinationsSettings()
    callrail: CallRailSettings = CallRailSettings()
    ctm: CtmSettings = CtmSettings()
    store: StoreSettings = StoreSettings()
    spark: SparkSettings = SparkSettings()
    retention: RetentionSettings = RetentionSettings()
    numbers: NumbersInRegion = NumbersSettings()  # after [phone], which reads its numbers

    # The settings file's values (`sources.read_config_file`), set by `load_settings`.
    file_values: ClassVar[dict[str, Any]] = {}

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
        file_values = getattr(settings_cls, "file_values", {})
        return (init_settings, env_settings, InitSettingsSource(settings_cls, file_values))


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
    return _load(config, flags)[0]


def settings_origins(config: Path | None = None, **flags: Any) -> dict[str, Origin]:
    """Where each setting in force came from, by dotted name (`merge.window`)."""
    return _load(config, flags)[1]


def _load(config: Path | None, flags: dict[str, Any]) -> tuple[Settings, dict[str, Origin]]:
    path = find_config(config)
    check_environment(Settings, os.environ)
    overrides = {key: value for key, value in flags.items() if value is not None}
    values = read_config_file(Settings, path)
    found = origins(Settings, setting_names(), overrides, os.environ, values, path)

    class FileSettings(Settings):
        file_values = values

    try:
        return FileSettings(**overrides), found
    except ValidationError as exc:
        raise TouchpointError(describe_validation_error(exc, path, found)) from None


def setting_names() -> list[str]:
    """Every setting's dotted name, in file order (a section's keys, `db` alone)."""
    names: list[str] = []
    for section_name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names.extend(f"{section_name}.{key}" for key in annotation.model_fields)
        else:
            names.append(section_name)
    return names


def describe_validation_error(
    exc: ValidationError, path: Path | None, found: dict[str, Origin] | None = None
) -> str:
    """One line naming the first bad setting the way a user writes it, and where it came from."""
    first = exc.errors()[0]
    where = [str(part) for part in first["loc"]]
    name = f"[{where[0]}] {'.'.join(where[1:])}" if len(where) > 1 else where[0] if where else "?"
    origin = found.get(".".join(where[:2])) if found else None
    if origin is not None and origin.kind != "default":
        source = f" (from {origin})"
    else:
        source = f" (from {path} or TOUCHPOINT_* variables)" if path else ""
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown setting" + _closest(where)
    return f"setting {name}: {message}{source}"


def _closest(where: list[str]) -> str:
    """`; did you mean [merge] window?` for a misspelt key, or nothing."""
    model: Any = Settings
    for part in where[:-1]:
        field = model.model_fields.get(part)
        model = field.annotation if field is not None else None
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return ""
    close = difflib.get_close_matches(where[-1], list(model.model_fields), n=1)
    if not close:
        return ""
    shown = f"[{where[0]}] {'.'.join([*where[1:-1], close[0]])}" if len(where) > 1 else close[0]
    return f"; did you mean {shown}?"
