"""`[callrail]` and `[ctm]`: how `sync callrail` and `sync ctm` reach each vendor's API."""

from __future__ import annotations

from pydantic import Field

from touchpoint.config.durations import OptionalDuration
from touchpoint.config.sections import Credential, Section


class CallRailSettings(Section):
    api_key: Credential = Field("", description="CallRail API v3 key (Settings > API keys).")
    account_id: str = Field(
        "", description="CallRail account id (ACC..., or the number in the app's URLs)."
    )
    base_url: str = Field("https://api.callrail.com", description="CallRail API's base URL.")
    interval: OptionalDuration = Field(
        "", description='How often serve syncs CallRail and builds, e.g. "15m"; empty: never.'
    )


class CtmSettings(Section):
    access_key: Credential = Field("", description="CallTrackingMetrics API access key.")
    secret_key: Credential = Field("", description="CallTrackingMetrics API secret key.")
    account_id: str = Field("", description="CallTrackingMetrics account id (a number).")
    base_url: str = Field(
        "https://api.calltrackingmetrics.com", description="CallTrackingMetrics API's base URL."
    )
    interval: OptionalDuration = Field(
        "",
        description='How often serve syncs CallTrackingMetrics and builds, e.g. "15m"; '
        "empty: never.",
    )
