"""One settings object: `touchpoint.toml`, then `TOUCHPOINT_*` variables, then flags.

Every field has a default and one line of help (its `description`), which the
`touchpoint settings` command and docs/configuration.md show; a field that holds a
credential is a `Credential`, which `settings` masks and a build does not keep.
"""

from touchpoint.config.describe import (
    MASK,
    SECRET_SETTINGS,
    describe_settings,
    masked_secrets,
    settings_document,
    settings_in_force,
    settings_markdown,
    without_secrets,
)
from touchpoint.config.durations import Duration, format_duration, parse_duration
from touchpoint.config.salesforce import SALESFORCE_OBJECTS, SalesforceSettings
from touchpoint.config.sections import (
    DEFAULT_CAMPAIGN_CHANNELS,
    CollectorSettings,
    Credential,
    Secret,
    Section,
    VendorSettings,
    WebhookSettings,
)
from touchpoint.config.settings import (
    Settings,
    describe_validation_error,
    find_config,
    load_settings,
    settings_origins,
)
from touchpoint.config.sources import Origin

__all__ = [
    "DEFAULT_CAMPAIGN_CHANNELS",
    "MASK",
    "SALESFORCE_OBJECTS",
    "SECRET_SETTINGS",
    "CollectorSettings",
    "Credential",
    "Duration",
    "Origin",
    "SalesforceSettings",
    "Secret",
    "Section",
    "Settings",
    "VendorSettings",
    "WebhookSettings",
    "describe_settings",
    "describe_validation_error",
    "find_config",
    "format_duration",
    "load_settings",
    "masked_secrets",
    "parse_duration",
    "settings_document",
    "settings_in_force",
    "settings_markdown",
    "settings_origins",
    "without_secrets",
]
