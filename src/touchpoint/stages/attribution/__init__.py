"""Journeys → the `attribution` table: every model's weights and revenue (DESIGN §4, §8).

One module per family: `position_based` (first touch, lead creation, U, W,
full path, custom), `touch_based` (linear, time decay, last touch), `markov`
and `shapley` (data-driven: channel credits from all journeys, turned into
weights by `data_driven`). `paths` attributes aggregated path files
(`touchpoint attribute-paths`).
"""

from touchpoint.stages.attribution.credit import attribution
from touchpoint.stages.attribution.rows import LEAD_MODELS, MODELS

__all__ = ["LEAD_MODELS", "MODELS", "attribution"]
