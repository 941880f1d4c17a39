"""What a build made, read as users read it: `touchpoint build`, then `touchpoint export`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def built_calls(cli: Callable[..., Any]) -> dict[str, dict[str, Any]]:
    """Build, then every row of `export calls`, by `call_id`."""
    done = cli("build")
    assert done.code == 0, done.stderr
    exported = cli("export", "calls", "--format", "json")
    assert exported.code == 0, exported.stderr
    rows = [json.loads(line) for line in exported.stdout.splitlines() if line.strip()]
    return {row["call_id"]: row for row in rows}
