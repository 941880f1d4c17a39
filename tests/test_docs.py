"""The docs say what the code does: settings, secret settings and click ids as declared."""

from __future__ import annotations

import re

from support.paths import ROOT
from touchpoint.config import SECRET_SETTINGS, settings_markdown
from touchpoint.sources.urls import CLICK_IDS


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


def test_the_docs_list_the_click_ids_in_the_order_they_are_looked_for() -> None:
    text = (ROOT / "docs/merge.md").read_text()
    item = re.search(r"^2\. an ad click id: (.*?)\n3\. ", text, re.S | re.M)
    assert item, "docs/merge.md lost its click-id item"
    words = " ".join(item.group(1).split())
    assert re.findall(r"`(\w+)`", words) == list(CLICK_IDS)
    for name, (source, medium) in CLICK_IDS.items():
        said = re.search(rf"`{name}`[^→]*→ (\w+)(?: / (\w+))?", words)
        assert said and said.group(1) == source, name
        assert said.group(2) == medium or medium is None, name
