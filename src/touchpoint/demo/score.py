"""How close touchpoint came to the demo world's truth: channels credited, merges decided."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from touchpoint.demo.world import World


@dataclass(frozen=True)
class DemoScore:
    """Of the world's calls: how many touchpoint credited to the right channel and merged right."""

    calls: int
    credited_right: int
    outcomes_agree: int
    by_outcome: Counter[str]
    credited_by_vendor: int = 0  # of `credited_right`: through the vendor's own attribution
    missed: Counter[str] = field(default_factory=Counter)  # not credited right, by outcome

    def as_json(self) -> str:
        """The score for scripts (`touchpoint demo --json`)."""
        return json.dumps(
            {
                "calls": self.calls,
                "credited_right": self.credited_right,
                "credited_right_share": self.credited_right / self.calls if self.calls else None,
                "credited_by_vendor": self.credited_by_vendor,
                "outcomes_agree": self.outcomes_agree,
                "by_outcome": dict(self.by_outcome),
            }
        )


def score(world: World, calls: list[dict[str, Any]], channels: dict[str, str]) -> DemoScore:
    """Compare touchpoint's calls (with their touchpoints' channels) with the truth."""
    truths = world.truth
    right = agree = by_vendor = 0
    outcomes: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    for call in calls:
        truth = truths.get(call["call_id"])
        if truth is None:
            continue
        outcomes[call["outcome"]] += 1
        agree += call["outcome"] == truth.outcome
        if channels.get(call["call_id"]) == truth.channel:
            right += 1
            by_vendor += call.get("attribution_basis") == "vendor"
        else:
            missed[truth.outcome] += 1
    return DemoScore(len(truths), right, agree, outcomes, by_vendor, missed)
