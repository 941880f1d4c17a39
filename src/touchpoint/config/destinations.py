"""`[destinations]`: which clicks earn a conversion, and `[destinations.google-ads]` (DESIGN §13).

A TOML key may hold a dash (`[destinations.google-ads]`) and a field name may not:
the field is `google_ads`, read from either spelling, so the environment's
`TOUCHPOINT_DESTINATIONS__GOOGLE_ADS__REFRESH_TOKEN` and the file's
`[destinations.google-ads] refresh_token` set the same setting.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator, model_validator

from touchpoint.config.durations import Duration, OptionalDuration
from touchpoint.config.sections import Credential, Section

CONVERSION_KINDS = ("call", "lead", "opportunity", "won")
LAST_TOUCH = "last_touch"


def _no_actions() -> dict[str, str]:
    return dict.fromkeys(CONVERSION_KINDS, "")


def _known_kinds(value: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(value) - set(CONVERSION_KINDS))
    if unknown:
        raise ValueError(
            f"unknown conversion kind {unknown[0]!r}; the kinds are {', '.join(CONVERSION_KINDS)}"
        )
    return {**_no_actions(), **value}


class GoogleAdsSettings(Section):
    """`[destinations.google-ads]`: the conversion actions, the account and how to sign in."""

    actions: dict[str, str] = Field(
        default_factory=_no_actions,
        description="The conversion action's name for each kind (call, lead, opportunity, won), "
        "as the upload file names it; an empty name sends none of that kind.",
    )
    action_ids: dict[str, str] = Field(
        default_factory=_no_actions,
        description="The conversion action's id for each kind named in actions (push sends "
        "to it: the Data Manager API's productDestinationId).",
    )
    customer_id: str = Field(
        "", description="The Google Ads account (10 digits) that owns the conversion actions."
    )
    login_customer_id: str = Field(
        "", description="The manager account signed in through, when access comes from one."
    )
    base_url: str = Field(
        "https://datamanager.googleapis.com",
        description="The Data Manager API's host (a test server's in tests).",
    )
    token_url: str = Field(
        "https://oauth2.googleapis.com/token",
        description="Google's OAuth token endpoint (refresh_token -> access token).",
    )
    client_id: str = Field("", description="OAuth client id (with client_secret, refresh_token).")
    client_secret: Credential = Field("", description="OAuth client secret.")
    refresh_token: Credential = Field(
        "", description="OAuth refresh token of a user of the account (scope datamanager)."
    )
    access_token: Credential = Field(
        "", description="An access token to use as it is, instead of the refresh token."
    )
    time_zone: str = Field(
        "", description="Time zone of the upload file's times; empty: [site] timezone."
    )
    batch_size: int = Field(
        2000, ge=1, le=2000, description="Events per events:ingest request (at most 2,000)."
    )

    _kinds = field_validator("actions", "action_ids")(_known_kinds)


class DestinationsSettings(Section):
    """`[destinations]`: what a conversion is credited to, for every ad platform."""

    model: str = Field(
        LAST_TOUCH,
        description="Which clicks earn a conversion: last_touch (the last click within "
        "lookback), or a multi-touch model of [attribution] (each click its credit).",
    )
    lookback: Duration = Field(
        timedelta(days=90), description="How long before a conversion a click still earns it."
    )
    send_user_data: bool = Field(
        False, description="Send hashed email and phone where a platform takes them."
    )
    interval: OptionalDuration = Field(
        "", description='How often serve pushes conversions, e.g. "1h"; empty: never.'
    )
    retry_backoff: Duration = Field(
        timedelta(minutes=1),
        description="After a transient error (429, 5xx), how long before a push sends again; "
        "it doubles with each attempt.",
    )
    google_ads: GoogleAdsSettings = Field(
        default_factory=GoogleAdsSettings,
        description="[destinations.google-ads]: actions, account, credentials, time zone.",
    )

    @model_validator(mode="before")
    @classmethod
    def _dashed_keys(cls, values: Any) -> Any:
        """`[destinations.google-ads]` as the file writes it is the field `google_ads`."""
        if isinstance(values, dict) and "google-ads" in values:
            values = dict(values)
            given = values.pop("google-ads")
            if isinstance(given, dict) and isinstance(values.get("google_ads"), dict):
                given = {**given, **values["google_ads"]}  # the environment wins over the file
            values["google_ads"] = given
        return values
