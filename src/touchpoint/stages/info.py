"""What one stage did, as every build step reports it (kept apart from the stages so that
a build with nothing new reports its steps without importing Ibis)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StageInfo:
    stage: str
    rows_in: int
    rows_out: int
    seconds: float
