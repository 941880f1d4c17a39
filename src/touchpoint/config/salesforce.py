"""`[salesforce]`: how `sync salesforce` signs in, what it downloads, and the Task fields."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, get_args

from pydantic import Field

from touchpoint.config.durations import Duration, OptionalDuration
from touchpoint.config.sections import Credential, CredentialFile, LocalPath, Section

SalesforceObject = Literal[
    "tasks", "leads", "contacts", "opportunities", "contact-roles", "campaign-members"
]
# What `touchpoint sync salesforce` can download, in the order it does.
SALESFORCE_OBJECTS: tuple[SalesforceObject, ...] = get_args(SalesforceObject)


class SalesforcePushSettings(Section):
    """`[salesforce.push]`: what `touchpoint push salesforce` writes into the org (DESIGN §14)."""

    interval: OptionalDuration = Field(
        "",
        description='How often serve pushes, after its scheduled sync and build, e.g. "1h"; '
        "empty: never.",
    )
    mapping: str = Field(
        "touchpoint",
        description="Which objects and fields to write: touchpoint (the shipped Touchpoint__c "
        "objects), bizible2 (Marketo Measure's), or the path of a mapping TOML file.",
    )
    batch_size: int = Field(
        200, ge=1, le=200, description="Records per sObject Collections call (at most 200)."
    )


class SalesforceSettings(Section):
    login_url: str = Field(
        "https://login.salesforce.com",
        description="OAuth token endpoint's base (your My Domain URL for client credentials).",
    )
    instance_url: str = Field("", description="With session_id: use an existing session.")
    session_id: Credential = Field("", description="An existing session id (with instance_url).")
    client_id: str = Field(
        "", description="Connected app's consumer key (client credentials and JWT bearer)."
    )
    client_secret: Credential = Field(
        "", description="Connected app's consumer secret (client credentials)."
    )
    # --- sync salesforce: JWT bearer, what to download, limits (touchpoint.sync) ---
    username: str = Field("", description="User the JWT bearer flow signs in as.")
    private_key_file: CredentialFile = Field(
        "", description="PEM private key of the connected app's certificate (JWT bearer)."
    )
    private_key: Credential = Field(
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
    ca_bundle: LocalPath = Field(
        "",
        description="PEM file of the CA certificates to trust for Salesforce instead of the usual ones.",
    )
    interval: OptionalDuration = Field(
        "", description='How often serve syncs and builds, e.g. "15m"; empty: never.'
    )
    push: SalesforcePushSettings = Field(
        default_factory=SalesforcePushSettings,
        description="What push salesforce writes: interval, mapping, batch_size.",
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
    call_types: list[str] = Field(
        default_factory=lambda: ["Call", "Inbound Call", "Outbound Call"],
        description="Task Types that are calls (besides TaskSubtype Call, a CallType or a "
        "visitor id); other Tasks are kept but are no calls, decided again at each build.",
    )
    task_filter: str = Field(
        "",
        description="A SOQL condition on Task that replaces the call rule for sync, e.g. "
        "\"TaskSubtype = 'Call'\"; empty: the rule.",
    )
