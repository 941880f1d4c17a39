"""The docs say what the code does: the settings table and the secret settings come from the settings."""

from __future__ import annotations

import re

from support.paths import ROOT
from touchpoint.config import SECRET_SETTINGS
from touchpoint.console import settings_markdown


def test_the_settings_table_in_the_docs_is_current() -> None:
    text = (ROOT / "docs/configuration.md").read_text()
    table = re.search(r"<!-- settings:start -->\n(.*?)\n<!-- settings:end -->", text, re.S)
    assert table, "docs/configuration.md lost its settings markers"
    assert table.group(1).strip() == settings_markdown().strip(), (
        "the settings changed: run scripts/docs-settings.sh"
    )


def test_the_readme_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    first_screen = "\n".join(readme.splitlines()[:25])
    assert "make run" in first_screen and "make test" in first_screen


def test_every_doc_the_readme_links_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    for link in re.findall(r"\]\((docs/[^)]+)\)", readme):
        assert (ROOT / link).exists(), link


def test_the_docs_name_every_secret_setting() -> None:
    text = (ROOT / "docs/configuration.md").read_text()
    listed = re.search(r"<!-- secrets:start -->\n(.*?)\n<!-- secrets:end -->", text, re.S)
    assert listed, "docs/configuration.md lost its secrets markers"
    names = [f"`[{n.split('.', 1)[0]}] {n.split('.', 1)[1]}`" for n in SECRET_SETTINGS]
    assert listed.group(1).strip() == ", ".join(names) + "."
