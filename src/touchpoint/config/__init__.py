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
    without_secrets,
)
from touchpoint.config.durations import Duration, OptionalDuration, format_duration, parse_duration
from touchpoint.config.salesforce import SALESFORCE_OBJECTS, SalesforceObject, SalesforceSettings
from touchpoint.config.sections import (
    DEFAULT_CAMPAIGN_CHANNELS,
    AttributionSettings,
    ChannelSettings,
    CollectorSettings,
    Credential,
    CrmSettings,
    CustomShares,
    IdentitySettings,
    MergeSettings,
    PhoneSettings,
    Secret,
    Section,
    ServerSettings,
    SessionSettings,
    SiteSettings,
    SparkSettings,
    StoreSettings,
    VendorSettings,
    WebhookSettings,
)
from touchpoint.config.settings import (
    Settings,
    describe_validation_error,
    find_config,
    load_settings,
)

__all__ = [
    "DEFAULT_CAMPAIGN_CHANNELS",
    "MASK",
    "SALESFORCE_OBJECTS",
    "SECRET_SETTINGS",
    "AttributionSettings",
    "ChannelSettings",
    "CollectorSettings",
    "Credential",
    "CrmSettings",
    "CustomShares",
    "Duration",
    "IdentitySettings",
    "MergeSettings",
    "OptionalDuration",
    "PhoneSettings",
    "SalesforceObject",
    "SalesforceSettings",
    "Secret",
    "Section",
    "ServerSettings",
    "SessionSettings",
    "Settings",
    "SiteSettings",
    "SparkSettings",
    "StoreSettings",
    "VendorSettings",
    "WebhookSettings",
    "describe_settings",
    "describe_validation_error",
    "find_config",
    "format_duration",
    "load_settings",
    "masked_secrets",
    "parse_duration",
    "without_secrets",
]
