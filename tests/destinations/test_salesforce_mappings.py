"""The shipped mappings of `touchpoint push salesforce` (src/touchpoint/data/salesforce_mappings/):
package data, loadable by the push's own loader, and for `bizible2` every name as Marketo
Measure's documentation publishes it (tests/fixtures/salesforce/metadata/marketo-measure/).
test_salesforce_metadata.py checks the `touchpoint` mapping against touchpoint's metadata.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from touchpoint.stages.attribution.rows import MODELS

ROOT = Path(__file__).parents[2]
MAPPINGS = ROOT / "src" / "touchpoint" / "data" / "salesforce_mappings"
DOCUMENTATION = ROOT / "tests" / "fixtures" / "salesforce" / "metadata" / "marketo-measure"
# The models Marketo Measure has (its Buyer Attribution Touchpoint's fields).
MARKETO_MEASURE_MODELS = {
    "first_touch",
    "lead_creation",
    "u_shaped",
    "w_shaped",
    "full_path",
    "custom",
}


def mapping(name: str) -> dict[str, Any]:
    return tomllib.loads((MAPPINGS / f"{name}.toml").read_text())


def test_the_touchpoint_mapping_has_every_model() -> None:
    assert set(mapping("touchpoint")["attribution"]["models"]) == set(MODELS)


def test_the_bizible2_mapping_has_only_marketo_measures_models() -> None:
    assert set(mapping("bizible2")["attribution"]["models"]) == MARKETO_MEASURE_MODELS
    assert set(MODELS) >= MARKETO_MEASURE_MODELS


def bizible2_names(document: Any) -> set[str]:
    if isinstance(document, dict):
        return set().union(*(bizible2_names(item) for item in document.values()))
    if isinstance(document, str) and document.startswith("bizible2"):
        return {document}
    return set()


def test_every_bizible2_name_is_in_marketo_measures_documentation() -> None:
    pages = "\n".join(path.read_text() for path in sorted(DOCUMENTATION.glob("*.md")))
    # The objects' API names appear in Salesforce's error messages the pages quote, one
    # of them as Marketo Measure's own log spells it: bizible2_Bizible_Attribution_Touchpoint.
    spellings = {
        name.removesuffix("__c").replace("__", "_") for name in re.findall(r"\bbizible2_\w+", pages)
    }
    names = bizible2_names(mapping("bizible2"))
    assert len(names) >= 20
    for name in sorted(names):
        assert name.endswith("__c") and name.startswith("bizible2__"), name
        documented = name in pages or name.removesuffix("__c").replace("__", "_") in spellings
        assert documented, f"{name} is not in Marketo Measure's documentation"
    # Buyer Touchpoint has no documented lookup to the lead (it goes through Marketo
    # Measure Person), nor Buyer Attribution Touchpoint to Buyer Touchpoint.
    assert "lead_id" not in mapping("bizible2")["touchpoint"]["links"]
    assert "touchpoint" not in mapping("bizible2")["attribution"]["links"]


@pytest.mark.parametrize("name", ["touchpoint", "bizible2"])
def test_the_shipped_mappings_load(name: str) -> None:
    """Through the push's own loader (helper F's), as `[salesforce.push] mapping` names them."""
    from touchpoint.destinations.salesforce_mapping import load_mapping

    loaded = load_mapping(name)
    document = mapping(name)
    assert loaded.touchpoint.object == document["touchpoint"]["object"]
    assert loaded.attribution.object == document["attribution"]["object"]


def test_the_mappings_are_package_data() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]
    for name in ("touchpoint", "bizible2"):
        path = f"data/salesforce_mappings/{name}.toml"
        assert any(fnmatch.fnmatch(path, p) for p in patterns["touchpoint"]), path
        assert resources.files("touchpoint").joinpath(path).is_file()
