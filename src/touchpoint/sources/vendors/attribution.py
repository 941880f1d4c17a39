"""What a vendor recorded about the visit before the call, as the `vendor_*` columns.

A vendor's own names for the visit (its source name, its utm fields, its landing
page and referrer, an ad click id) become the call's `vendor_*` columns, completed
from the landing page URL the way GA4 derives a session's source.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from touchpoint.sources.urls import CLICK_ID_PARAMS, host_of, is_http_url, url_facts
from touchpoint.sources.vendors.fields import field_at, text


@dataclass(frozen=True)
class Attribution:
    """What the vendor recorded about the visit before the call."""

    source: str | None = None  # utm_source, or the vendor's own field for it
    medium: str | None = None
    campaign: str | None = None
    content: str | None = None
    term: str | None = None
    click_id: str | None = None
    click_id_param: str | None = None  # gclid, msclkid, fbclid, ...
    landing_page: str | None = None
    referrer: str | None = None  # a URL, or just a host (CallRail's referrer_domain)
    label: str | None = None  # the vendor's name for the source: "Google Paid", "google_paid"


# Search engines and social sites as vendors name them, and the source GA4 uses.
_LABEL_SOURCES = {
    "google": "google",
    "adwords": "google",
    "bing": "bing",
    "microsoft": "bing",
    "yahoo": "yahoo",
    "duckduckgo": "duckduckgo",
    "facebook": "facebook",
    "instagram": "instagram",
    "meta": "facebook",
    "linkedin": "linkedin",
    "twitter": "twitter",
    "youtube": "youtube",
    "tiktok": "tiktok",
    "yelp": "yelp",
}
_PAID_WORDS = frozenset({"paid", "ppc", "cpc", "ads", "adwords", "sem"})
_ORGANIC_WORDS = frozenset({"organic", "seo"})
_DIRECT_WORDS = frozenset({"direct", "traffic", "visit", "none"})


def label_source(label: str | None) -> tuple[str, str | None] | None:
    """The source and medium a vendor's source name stands for, when it is a known one.

    >>> label_source("Google Paid")
    ('google', 'cpc')
    >>> label_source("google_organic")
    ('google', 'organic')
    >>> label_source("Direct")
    ('(direct)', '(none)')
    >>> label_source("Billboard I-95") is None
    True
    """
    if not label:
        return None
    words = [word for word in re.split(r"[^a-z0-9]+", label.lower()) if word]
    if "direct" in words and set(words) <= _DIRECT_WORDS:  # not "Direct Mail"
        return "(direct)", "(none)"
    source = next((_LABEL_SOURCES[word] for word in words if word in _LABEL_SOURCES), None)
    if source is None:
        return None
    if set(words) & _PAID_WORDS:
        return source, "cpc"
    if set(words) & _ORGANIC_WORDS:
        return source, "organic"
    return source, None


def attribution_columns(said: Attribution) -> dict[str, str | None]:
    """The `vendor_*` columns of what the vendor said, completed from its landing page.

    Precedence, as GA4 derives a session's source: the vendor's explicit utm fields,
    then its source name when it is a known one ("Google Paid"), then the landing
    page's own utm parameters and click id; a source name touchpoint does not know
    ("Billboard I-95") is kept last, so the user's channel rules can still match it.
    The referrer and click ids are classified by the build, like a session's.
    """
    landing = said.landing_page if said.landing_page and is_http_url(said.landing_page) else None
    facts = url_facts(landing) if landing else None
    from_page = facts.utm if facts else {}
    known = label_source(said.label)
    source = said.source or (known[0] if known else None) or from_page.get("utm_source")
    medium = said.medium
    if medium is None and known and not said.source:
        medium = known[1]
    medium = medium or from_page.get("utm_medium")
    click_id, click_param = said.click_id, said.click_id_param
    if click_id is None and facts is not None and facts.click_id is not None:
        click_id, click_param = facts.click_id, facts.click_id_param
    if source is None and click_id is None and said.referrer is None and said.label:
        source = said.label  # unknown to touchpoint, but the vendor's word for it
    referrer_host = host_of(said.referrer) if said.referrer else None
    if said.referrer and referrer_host is None and re.fullmatch(r"[A-Za-z0-9.-]+", said.referrer):
        referrer_host = said.referrer.lower().rstrip(".") or None  # a bare domain
    return {
        "vendor_source": source,
        "vendor_medium": medium,
        "vendor_campaign": said.campaign or from_page.get("utm_campaign"),
        "vendor_content": said.content or from_page.get("utm_content"),
        "vendor_term": said.term or from_page.get("utm_term"),
        "vendor_click_id": click_id,
        "vendor_click_id_param": click_param if click_id else None,
        "vendor_landing_page": said.landing_page,
        "vendor_referrer": said.referrer,
        "vendor_referrer_host": referrer_host,
        "vendor_landing_host": facts.host if facts else None,
    }


# A record names its click id as the URL parameter does; looked for in the same order.
CLICK_ID_FIELDS = CLICK_ID_PARAMS


def click_id_in(record: Mapping[str, Any], prefix: str = "") -> tuple[str | None, str | None]:
    """The first ad click id a record carries as its own field, and that field's name."""
    for name in CLICK_ID_FIELDS:
        value = text(field_at(record, prefix + name))
        if value is not None:
            return value, name
    return None, None
