"""What every report holds, as typed records: the terminal tables, the HTML page and the
JSON API all show these, and the API's OpenAPI schema is generated from them.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field

from touchpoint.report.call_records import CallQuality
from touchpoint.report.lead_records import LeadReconciliation
from touchpoint.report.pool_records import PoolReport


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StageFigure(Record):
    """One stage of the build: rows in and out, and how long it took."""

    stage: str
    rows_in: int
    rows_out: int
    seconds: float


class Summary(Record):
    """The header: which build, over which days, and the key numbers."""

    build_id: str
    built_at: str = Field(description="When the build was published, ISO 8601 in UTC.")
    built_at_local: str = Field(description="The same moment in [site] timezone, for people.")
    timezone: str
    currency: str
    first_day: str | None = Field(description="The first day with events or calls (site time).")
    last_day: str | None
    events: int
    sessions: int
    calls: int
    merged_calls: int
    merge_rate: float | None = Field(description="Merged calls / calls, or null without calls.")
    touchpoints: int
    people: int
    leads: int = Field(description="Lead conversions (people with a first conversion or a lead).")
    opportunities: int
    model: str = Field(description="The model the revenue figures below are credited with.")
    open_pipeline: float = Field(description="Credited amount of opportunities still open.")
    won_revenue: float = Field(description="Credited amount of opportunities closed won.")
    window_minutes: float = Field(description="The merge window the build ran with.")
    anchor: str
    stages: list[StageFigure]


class ChannelOutcomes(Record):
    """Calls of one channel (their touchpoint's) by merge outcome."""

    channel: str
    merged: int
    outside_window: int
    no_session: int
    no_visitor_id: int
    total: int
    ambiguous: int = 0


class OutcomeCount(Record):
    outcome: str
    calls: int
    share: float
    reason: str = Field(description="What the outcome means, in plain words.")


class GapBin(Record):
    """Calls whose gap from the session start falls in [start_minute, end_minute)."""

    start_minute: int
    end_minute: int | None = Field(description="Null for the last, open-ended bin.")
    merged: int
    outside_window: int


class WindowWhatIf(Record):
    """How many more calls a wider merge window would have merged."""

    window_minutes: int
    more_merged: int
    merged: int
    merge_rate: float | None


class MergeOutcomes(Record):
    window_minutes: float
    anchor: str
    calls: int
    outcomes: list[OutcomeCount]
    gap_bins: list[GapBin]
    what_if: list[WindowWhatIf]


class TypeChannelCell(Record):
    touchpoint_type: str
    channel: str
    touchpoints: int


class TouchpointMix(Record):
    """Touchpoints by type and channel; types and channels largest first."""

    touchpoint_types: list[str]
    channels: list[str]
    cells: list[TypeChannelCell]


class ChannelCredit(Record):
    """What one model credits one channel with."""

    channel: str
    model: str
    leads: float = Field(description="Lead conversions credited (sum of weights).")
    opportunities: float = Field(description="Opportunities credited (sum of weights).")
    open_pipeline: float
    won_revenue: float
    lost_revenue: float


class ModelCredit(Record):
    """One model's credit by channel, largest revenue first."""

    model: str
    label: str
    applies_to_leads: bool
    channels: list[ChannelCredit]
    leads: float
    opportunities: float
    open_pipeline: float
    won_revenue: float


class ModelComparison(Record):
    """Every model's credit by channel, side by side."""

    models: list[str]
    labels: dict[str, str]
    channels: list[str]
    credits: list[ChannelCredit]


class WeekTrend(Record):
    week: str = Field(description="The Monday starting the week, in [site] timezone.")
    sessions: int
    touchpoints: int
    calls: int
    merged_calls: int
    leads: int = Field(description="Touchpoints holding the LC position.")


class UnmergedCall(Record):
    call_id: str
    source_system: str
    called_at: str
    outcome: str
    channel: str | None
    touchpoint_type: str | None
    visitor_id: str | None
    minutes_from_session_start: int | None
    explanation: str


class UnmergedCalls(Record):
    total: int
    offset: int
    calls: list[UnmergedCall]


class JourneyTouch(Record):
    touchpoint_id: str
    touchpoint_date: str
    touchpoint_type: str
    channel: str
    subchannel: str | None
    source: str | None
    medium: str | None
    campaign: str | None
    landing_page: str | None
    referrer: str | None
    positions: str | None
    call_id: str | None
    credited_revenue: float | None = Field(description="Revenue the chosen model credits it.")


class JourneyConversion(Record):
    conversion_id: str
    conversion_type: str
    name: str | None
    amount: float | None
    stage: str | None
    is_closed: bool | None
    is_won: bool | None
    created_at: str | None = Field(description="When the lead or opportunity was created.")
    closes_at: str | None = Field(description="The end of the opportunity's close date.")


class Journey(Record):
    """One person's touchpoints in time order and the conversions they lead to."""

    person_id: str
    model: str
    touchpoints: list[JourneyTouch]
    conversions: list[JourneyConversion]


class PersonRef(Record):
    """A person worth looking at: many touchpoints, calls, revenue."""

    person_id: str
    touchpoints: int
    calls: int
    channels: int
    won_revenue: float
    open_pipeline: float
    first_touch: str
    last_touch: str


class ReportPeriod(Record):
    """The days a report covers (inclusive, in [site] timezone); null is open-ended."""

    from_day: str | None
    to_day: str | None
    timezone: str


class RevenueTotals(Record):
    """Opportunities and their money by state: open, closed won, closed lost."""

    opportunities: int
    open_pipeline: float
    won_revenue: float
    lost_revenue: float


class UnattributedReason(RevenueTotals):
    """The opportunities no touchpoint is credited with for one reason."""

    reason: str = Field(
        description="no_contacts, no_contact_roles, no_primary_contact_role, no_touchpoints, "
        "no_touchpoint_before_close or not_credited."
    )
    words: str


class UnattributedOpportunity(Record):
    opportunity_id: str
    name: str | None
    amount: float
    state: str = Field(description="open, won or lost.")
    created_at: str | None
    close_date: str | None
    reason: str
    words: str


class Reconciliation(Record):
    """The CRM's opportunities of the period: attributed + unattributed = the CRM's sums."""

    model: str
    opportunity_contacts: str = Field(description="How the build linked opportunities to people.")
    crm: RevenueTotals = Field(description="Every opportunity of the period, its CRM amount.")
    attributed: RevenueTotals = Field(description="Opportunities the model credits, credited.")
    unattributed: RevenueTotals
    reasons: list[UnattributedReason]
    opportunities: list[UnattributedOpportunity] = Field(
        description="The unattributed opportunities, largest amount first (at most 100)."
    )
    leads: LeadReconciliation = Field(description="The CRM's leads of the period, the same way.")


class SliceRow(Record):
    """Calls and one model's credit for one value of a dimension."""

    value: str
    calls: int
    merged_calls: int
    leads: float
    opportunities: float
    open_pipeline: float
    won_revenue: float


class Breakdown(Record):
    """Calls and revenue by one dimension; rows past the limit fold into one."""

    dimension: str
    label: str
    values: int = Field(description="How many values the dimension has in the period.")
    rows: list[SliceRow]


class Slices(Record):
    model: str
    breakdowns: list[Breakdown]


class Report(Record):
    """Everything `touchpoint report` shows."""

    summary: Summary
    calls_by_channel: list[ChannelOutcomes]
    merge_outcomes: MergeOutcomes
    touchpoint_mix: TouchpointMix
    attribution: ModelCredit
    models: ModelComparison
    trend: list[WeekTrend]
    unmerged_calls: UnmergedCalls
    people: list[PersonRef]
    journeys: list[Journey]
    period: ReportPeriod
    reconciliation: Reconciliation
    slices: Slices
    call_quality: CallQuality
    pools: PoolReport | None = Field(None, description="Number pools; null when none is set.")


class CallsByChannel(Record):
    channels: list[ChannelOutcomes]


class WeeklyTrend(Record):
    timezone: str
    weeks: list[WeekTrend]


class People(Record):
    model: str
    people: list[PersonRef]


class CallExplanationRecord(Record):
    """`touchpoint explain call ID --json` for one call."""

    call_id: str
    source_system: str
    outcome: str
    called_at: str
    visitor_id: str | None
    activity_type: str | None
    session_id: str | None
    session_started_at: str | None
    session_channel: str | None
    session_source: str | None
    session_medium: str | None
    landing_page: str | None
    minutes_from_session_start: int | None
    seconds_from_session_start: float | None
    anchor: str
    anchor_at: str | None
    minutes_from_anchor: int | None
    window_minutes: float
    touchpoint_id: str | None
    touchpoint_type: str | None
    touchpoint_channel: str | None
    touchpoint_medium: str | None
    touchpoint_conversion: str | None
    attribution_basis: str | None
    next_session_started_at: str | None
    visitor_id_field: str
    text: str

    def as_json(self) -> str:
        """The record as `explain call --json` prints it."""
        return json.dumps(self.model_dump(), indent=2)


class CallExplanations(Record):
    """Every call with the id asked for (a CRM record and a vendor's may share one)."""

    calls: list[CallExplanationRecord]


class ApiError(Record):
    error: str
