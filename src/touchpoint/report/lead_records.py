"""The records of the leads' reconciliation with the CRM (`reconcile`): every lead of the
period, attributed or not, and why not.

They live apart from `records` (whose `Reconciliation` carries them) to keep each module
small; the terminal table, the page and the API's OpenAPI schema read them the same way.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LeadRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UnattributedLeads(LeadRecord):
    """The leads no touchpoint is credited with for one reason."""

    reason: str = Field(
        description="opportunities_only, no_touchpoints, another_lead, "
        "no_touchpoint_before_creation or not_credited."
    )
    words: str
    leads: int


class UnattributedLead(LeadRecord):
    lead_id: str
    email: str | None
    created_at: str | None
    reason: str
    words: str


class LeadReconciliation(LeadRecord):
    """The CRM's leads created in the period: attributed + unattributed = the CRM's count."""

    crm: int = Field(description="Every lead created in the period.")
    attributed: int = Field(description="Leads the model credits some touchpoint with.")
    unattributed: int
    reasons: list[UnattributedLeads]
    leads: list[UnattributedLead] = Field(
        description="The unattributed leads, newest first (at most 100)."
    )
