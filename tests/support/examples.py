"""How many examples a hypothesis property gets when each of its examples runs a build.

A DuckDB build costs seconds whatever its data holds (Ibis compiles every stage's SQL;
running it on a few dozen rows is a small part), so such a property under the `ci`
profile (the default, tests/conftest.py) runs a handful of examples, each holding
several independent worlds, and under any other profile (`HYPOTHESIS_PROFILE=dev`)
as many as it names for that. See tests/README.md.
"""

from __future__ import annotations

import os

from hypothesis import settings


def build_examples(ci: int, dev: int) -> settings:
    """`ci` examples under the ci profile, `dev` under any other."""
    profile = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    return settings(max_examples=ci if profile == "ci" else dev)
