#!/usr/bin/env bash
# Rewrite the settings table in docs/configuration.md from the settings object.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
{
  sed -n '1,/<!-- settings:start -->/p' docs/configuration.md
  "$python" -m touchpoint settings --markdown
  sed -n '/<!-- settings:end -->/,$p' docs/configuration.md
} > docs/configuration.md.new
mv docs/configuration.md.new docs/configuration.md
