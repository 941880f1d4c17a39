"""Where the tests' files live."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent
FIXTURES = TESTS / "fixtures"
VENDOR_FIXTURES = FIXTURES / "vendors"
SCENARIOS = FIXTURES / "scenarios"
