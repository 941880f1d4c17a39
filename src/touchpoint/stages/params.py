"""What the stages need from the settings, read once per build (stages do no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from touchpoint.config import Settings
from touchpoint.stages.channel_rules import ChannelRule, read_rules

_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class BuildParams:
    session_timeout_us: int
    merge_window_us: int
    merge_anchor: str
    internal_domains: tuple[str, ...]
    channel_rules: tuple[ChannelRule, ...] = ()
    replace_default_channels: bool = False
    manual_tags_override: bool = False
    max_visitors_per_phone: int = 3
    campaign_channels: tuple[tuple[str, str], ...] = ()
    opportunity_contacts: str = "account"
    half_life_us: int = 7 * 86_400_000_000
    markov_order: int = 1
    custom_shares: tuple[float, float, float, float, float] = (22.5, 22.5, 22.5, 22.5, 10.0)
    # Read again at every build from the records the raw tables keep (DESIGN §11).
    visitor_id_field: str = "bizible2__BizibleId__c"
    call_time_field: str = "bizible2__Bizible_Touchpoint_Date__c"
    call_types: tuple[str, ...] = ("Call", "Inbound Call", "Outbound Call")  # Task Types
    amount_field: str = "Amount"
    site_timezone: str = "UTC"
    # The Task fields holding the numbers, read again for `stages.phones`.
    caller_number_field: str = ""
    tracking_number_field: str = ""
    # `[merge] vendor_fallback` and the `[calls]` rules (DESIGN §12; stages.qualify).
    vendor_fallback: bool = True
    exclude_outbound: bool = True
    exclude_spam: bool = True
    min_duration_us: int = 0
    answered_only: bool = False
    first_time_only: bool = False
    lead_statuses: tuple[str, ...] = ()
    # DESIGN §15: `(pool, number, is_fallback, hold_us)` of every pool's numbers and
    # fallback, in E.164 (`stages.numbers`).
    number_pools: tuple[tuple[str, str, bool, int], ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> BuildParams:
        """Read the settings (and the channel rules file they name) for one build."""
        rules_path = settings.channels.rules.strip()
        custom = settings.attribution.custom
        return cls(
            session_timeout_us=settings.sessions.timeout // _US,
            merge_window_us=settings.merge.window // _US,
            merge_anchor=settings.merge.anchor,
            internal_domains=tuple(d.strip().lower() for d in settings.site.domains if d.strip()),
            channel_rules=read_rules(Path(rules_path)) if rules_path else (),
            replace_default_channels=settings.channels.replace_defaults,
            manual_tags_override=settings.channels.manual_tags_override,
            max_visitors_per_phone=settings.identity.max_visitors_per_phone,
            campaign_channels=tuple(settings.crm.campaign_channels.items()),
            opportunity_contacts=settings.attribution.opportunity_contacts,
            half_life_us=settings.attribution.half_life // _US,
            markov_order=settings.attribution.markov_order,
            custom_shares=(custom.ft, custom.lc, custom.oc, custom.closed, custom.middle),
            visitor_id_field=settings.salesforce.visitor_id_field.strip(),
            call_time_field=settings.salesforce.call_time_field.strip(),
            call_types=tuple(settings.salesforce.call_types),
            amount_field=settings.attribution.amount_field.strip(),
            site_timezone=settings.site.timezone,
            caller_number_field=settings.salesforce.caller_number_field.strip(),
            tracking_number_field=settings.salesforce.tracking_number_field.strip(),
            vendor_fallback=settings.merge.vendor_fallback,
            exclude_outbound=settings.calls.exclude_outbound,
            exclude_spam=settings.calls.exclude_spam,
            min_duration_us=settings.calls.min_duration // _US,
            answered_only=settings.calls.answered_only,
            first_time_only=settings.calls.first_time_only,
            lead_statuses=tuple(s.strip() for s in settings.calls.lead_statuses if s.strip()),
            number_pools=number_pools(settings),
        )


def number_pools(settings: Settings) -> tuple[tuple[str, str, bool, int], ...]:
    """Every pool number and fallback with its pool and the pool's hold (DESIGN §15)."""
    rows: list[tuple[str, str, bool, int]] = []
    for pool in settings.numbers.pools:
        hold_us = pool.hold_or(settings.sessions.timeout) // _US
        rows += [(pool.name, number, False, hold_us) for number in pool.numbers]
        if pool.fallback:
            rows.append((pool.name, pool.fallback, True, hold_us))
    return tuple(rows)
