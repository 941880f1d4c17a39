#!/usr/bin/env bash
# Rewrite the vendor tables in docs/vendors.md from the vendor declarations (VENDORS).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
"$python" - <<'PY'
from pathlib import Path

from touchpoint.sources.vendors.tables import with_tables

doc = Path("docs/vendors.md")
doc.write_text(with_tables(doc.read_text()))
PY
