"""The records of the call-quality breakdowns (`call_quality`): answered or not, first-time or
repeat callers, qualified or not, texts and forms apart, by channel and by campaign.

They live apart from `records` (which holds the report that carries them) to keep each
module small; the terminal tables, the page and the API's OpenAPI schema read them the
same way.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CallRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CallQualityRow(CallRecord):
    """One channel's or campaign's calls by how they went. Call figures count calls only
    (`kind` call; a source that does not say is a call); texts and forms are counted apart.
    Each split adds up to `calls`: what the source did not say is counted as unknown."""

    value: str
    calls: int
    answered: int
    not_answered: int = Field(description="missed + voicemail + abandoned + busy + failed.")
    missed: int
    voicemail: int
    abandoned: int
    busy: int
    failed: int
    status_unknown: int = Field(description="Calls whose source gives no status.")
    first_time: int = Field(description="Calls the vendor marks as a first-time caller's.")
    repeat: int = Field(description="Calls the vendor marks as a repeat caller's.")
    caller_unknown: int = Field(description="Calls whose source does not say.")
    qualified: int = Field(description="Calls that count under the [calls] rules.")
    not_qualified: int
    qualified_unknown: int = Field(description="Calls of builds that did not decide.")
    texts: int
    forms: int
    call_value: float | None = Field(description="The calls' value; null when none has one.")
    valued_calls: int = Field(description="Calls with a value.")


class CallQualityBreakdown(CallRecord):
    """Call quality by one dimension, most calls first; rows past the limit fold into one."""

    dimension: str = Field(description="channel or campaign.")
    label: str
    values: int = Field(description="How many values the dimension has in the period.")
    rows: list[CallQualityRow]


class ReasonCount(CallRecord):
    """Calls not qualified for one reason (the rule, without its numbers)."""

    reason: str
    calls: int


class CallQuality(CallRecord):
    """The period's calls by channel and campaign: answered, first-time, qualified."""

    total: CallQualityRow = Field(description="Every call of the period (value `all`).")
    breakdowns: list[CallQualityBreakdown]
    disqualified_reasons: list[ReasonCount] = Field(
        description="Why calls did not qualify, most calls first; they add up to not_qualified."
    )
