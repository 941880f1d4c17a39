"""Source, medium and channel (DESIGN §3), as Ibis expressions for every backend.

Source and medium are derived as GA4 does: `utm_*` first, then an ad click id,
then an external referrer, then `(direct)` / `(none)`. The channel is the GA4
default channel group, after the user's own rules (the reference product's CSV
layout) when there are any.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import ibis
import ibis.expr.types as ir

from touchpoint.errors import TouchpointError
from touchpoint.sources.urls import CLICK_IDS

PAID_MEDIUM = r"^(.*cp.*|ppc|retargeting|paid.*)$"
SHOP_CAMPAIGN = r"^(.*(([^a-df-z]|^)shop|shopping).*)$"
DIRECT_SOURCE = "(direct)"
NO_MEDIUM = "(none)"

# Referrer hosts and the canonical source name they stand for, checked in order.
REFERRER_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"(^|\.)google(\.[a-z]{2,3}){1,2}$", "google"),
    (r"(^|\.)(bing\.com|msn\.com)$", "bing"),
    (r"(^|\.)yahoo(\.[a-z]{2,3}){1,2}$", "yahoo"),
    (r"(^|\.)duckduckgo\.com$", "duckduckgo"),
    (r"(^|\.)baidu\.com$", "baidu"),
    (r"(^|\.)yandex(\.[a-z]{2,3}){1,2}$", "yandex"),
    (r"(^|\.)ecosia\.org$", "ecosia"),
    (r"(^|\.)(facebook\.com|fb\.com|fb\.me)$", "facebook"),
    (r"(^|\.)instagram\.com$", "instagram"),
    (r"^(t\.co|(.*\.)?twitter\.com|(.*\.)?x\.com)$", "twitter"),
    (r"(^|\.)(linkedin\.com|lnkd\.in)$", "linkedin"),
    (r"(^|\.)(youtube\.com|youtu\.be)$", "youtube"),
    (r"(^|\.)reddit\.com$", "reddit"),
    (r"(^|\.)pinterest(\.[a-z]{2,3}){1,2}$", "pinterest"),
    (r"(^|\.)tiktok\.com$", "tiktok"),
    (r"(^|\.)(chatgpt\.com|chat\.openai\.com)$", "chatgpt"),
)
_STRIPPED_PREFIX = r"^(www|m|l|lm|mobile|amp)\."

# How a canonical source is written as a subchannel when capitalising is not enough.
SUBCHANNEL_NAMES = {
    "linkedin": "LinkedIn",
    "youtube": "YouTube",
    "tiktok": "TikTok",
    "duckduckgo": "DuckDuckGo",
    "chatgpt": "ChatGPT",
}

RULE_COLUMNS = ("channel", "subchannel", "campaign", "medium", "source", "landing_page", "referrer")
RULE_MATCH_COLUMNS = ("campaign", "medium", "source", "landing_page", "referrer")


@cache
def _category_rows() -> tuple[tuple[str, str], ...]:
    # Google's GA4 source categories, as carried by dbt-snowplow-web (Apache-2.0),
    # seeds/snowplow_web_dim_ga4_source_categories.csv at commit cc4799c2.
    text = resources.files("touchpoint").joinpath("data/ga4-source-categories.csv").read_text()
    rows: dict[str, str] = {}
    for row in csv.DictReader(text.splitlines()):
        name = row["source"].strip().lower()
        rows.setdefault(name, row["source_category"].removeprefix("SOURCE_CATEGORY_"))
    return tuple(sorted(rows.items()))


def source_categories() -> ir.Table:
    """The GA4 source-category list as a table: `category_source`, `source_category`."""
    rows = _category_rows()
    return ibis.memtable(
        {
            "category_source": [name for name, _ in rows],
            "source_category": [category for _, category in rows],
        }
    )


def referrer_sources(hosts: ir.Table) -> ir.Table:
    """Canonical source and search flag for each distinct `referrer_host`.

    Works on the distinct hosts only, so the patterns run over thousands of
    rows, not over every event.
    """
    host = hosts.referrer_host
    bare = host.re_replace(_STRIPPED_PREFIX, "")
    canonical = ibis.cases(
        *((host.re_search(pattern), name) for pattern, name in REFERRER_PATTERNS),
        else_=bare,
    )
    named = hosts.select(referrer_host=host, referrer_source=canonical)
    categories = source_categories()
    search = categories.filter(categories.source_category == "SEARCH")
    joined = named.left_join(search, named.referrer_source == search.category_source)
    return joined.select(
        "referrer_host",
        "referrer_source",
        referrer_is_search=joined.source_category.notnull(),
    )


def is_internal(
    referrer_host: ir.StringValue, page_host: ir.StringValue, domains: Sequence[str]
) -> ir.BooleanValue:
    """True when the referrer is the page's own host or one of the site's domains."""
    internal = referrer_host == page_host
    for domain in domains:
        domain = domain.strip().lower().lstrip(".")
        if domain:
            internal |= (referrer_host == domain) | referrer_host.endswith("." + domain)
    return internal


def _blank_to_null(value: ir.StringValue) -> ir.StringValue:
    # Values are trimmed when they arrive. (Ibis's strip() on PySpark also trims the
    # letters v and f, so stage code does not use it.)
    return value.nullif("")


def click_source_medium(param: ir.StringValue) -> tuple[ir.StringValue, ir.StringValue]:
    """The source and medium the ad click id named `param` stands for (NULL: none)."""
    source = ibis.cases(
        *((param == name, pair[0]) for name, pair in CLICK_IDS.items()),
        else_=ibis.null("string"),
    )
    medium = ibis.cases(
        *((param == name, pair[1]) for name, pair in CLICK_IDS.items() if pair[1]),
        else_=ibis.null("string"),
    )
    return source, medium


def acquisition(events: ir.Table, domains: Sequence[str]) -> ir.Table:
    """Add each event's derived source, medium and whether it is a new acquisition.

    `events` carries the referrer lookup's `referrer_source` and `referrer_is_search`.
    """
    external = events.referrer_host.notnull() & ~is_internal(
        events.referrer_host, events.page_host, domains
    ).fill_null(False)
    external = external.fill_null(False)
    click_source, click_medium = click_source_medium(events.click_id_param)
    referrer_medium = ibis.ifelse(events.referrer_is_search.fill_null(False), "organic", "referral")
    utm_source = _blank_to_null(events.utm_source.lower())
    utm_medium = _blank_to_null(events.utm_medium.lower())
    source = ibis.coalesce(
        utm_source,
        click_source,
        ibis.ifelse(external, events.referrer_source, ibis.null("string")),
        ibis.literal(DIRECT_SOURCE),
    )
    medium = ibis.coalesce(
        utm_medium,
        click_medium,
        ibis.ifelse(external, referrer_medium, ibis.null("string")),
        ibis.literal(NO_MEDIUM),
    )
    has_utm = (
        events.utm_source.notnull()
        | events.utm_medium.notnull()
        | events.utm_campaign.notnull()
        | events.utm_content.notnull()
        | events.utm_term.notnull()
    )
    is_acquisition = has_utm | events.click_id.notnull() | external
    key = ibis.literal("|").join(
        [
            source,
            medium,
            events.utm_campaign.fill_null(""),
            events.utm_content.fill_null(""),
            events.utm_term.fill_null(""),
            events.click_id.fill_null(""),
        ]
    )
    return events.mutate(
        source=source,
        medium=medium,
        is_acquisition=is_acquisition,
        acquisition_key=ibis.ifelse(is_acquisition, key, ibis.null("string")),
    )


def default_channel(
    source: ir.StringValue,
    medium: ir.StringValue,
    campaign: ir.StringValue,
    category: ir.StringValue,
) -> ir.StringValue:
    """The GA4 default channel group, top-down, first match wins."""
    campaign = campaign.lower().fill_null("")
    paid = medium.re_search(PAID_MEDIUM)
    shop_campaign = campaign.re_search(SHOP_CAMPAIGN)
    shopping = category == "SHOPPING"
    search = category == "SEARCH"
    social = category == "SOCIAL"
    video = category == "VIDEO"
    email = ("email", "e-mail", "e_mail", "e mail")
    social_media = (
        "social",
        "social-network",
        "social-media",
        "sm",
        "social network",
        "social media",
    )
    return ibis.cases(
        ((source == DIRECT_SOURCE) & medium.isin(("(not set)", NO_MEDIUM)), "Direct"),
        (campaign.contains("cross-network"), "Cross-network"),
        ((shopping | shop_campaign) & paid, "Paid Shopping"),
        (search & paid, "Paid Search"),
        (social & paid, "Paid Social"),
        (video & paid, "Paid Video"),
        (medium.isin(("display", "banner", "expandable", "interstitial", "cpm")), "Display"),
        (paid, "Paid Other"),
        (shopping | shop_campaign, "Organic Shopping"),
        (social | medium.isin(social_media), "Organic Social"),
        (video | medium.re_search(r"^(.*video.*)$"), "Organic Video"),
        (search | (medium == "organic"), "Organic Search"),
        (medium.isin(("referral", "app", "link")), "Referral"),
        (source.isin(email) | medium.isin(email), "Email"),
        (medium == "affiliate", "Affiliates"),
        (medium == "audio", "Audio"),
        ((source == "sms") | (medium == "sms"), "SMS"),
        (
            medium.endswith("push")
            | medium.contains("mobile")
            | medium.contains("notification")
            | (source == "firebase"),
            "Mobile Push Notifications",
        ),
        else_="Unassigned",
    )


def default_subchannel(source: ir.StringValue) -> ir.StringValue:
    """The canonical source, capitalised (`Google`, `LinkedIn`); none for direct."""
    capitalised = source.substr(0, 1).upper() + source.substr(1)
    return ibis.cases(
        (source.isnull() | (source == DIRECT_SOURCE), ibis.null("string")),
        *((source == name, shown) for name, shown in SUBCHANNEL_NAMES.items()),
        else_=capitalised,
    )


@dataclass(frozen=True)
class ChannelRule:
    """One row of a user's rules file: a channel for what its cells match."""

    line: int
    channel: str
    subchannel: str | None
    patterns: tuple[tuple[str, tuple[str, ...]], ...]  # (column, alternatives as regexes)


def wildcard_regex(pattern: str) -> str:
    """An anchored, lower-case regex for a rules cell pattern (`*` is a wildcard).

    >>> wildcard_regex("*google.*")
    '^.*google\\\\..*$'
    """
    parts = [re.escape(part) for part in pattern.strip().lower().split("*")]
    return "^" + ".*".join(parts) + "$"


def read_rules(path: Path) -> tuple[ChannelRule, ...]:
    """Channel rules from a CSV in the reference product's layout, top-down."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise TouchpointError(f"channel rules {path}: cannot read it ({exc.strerror})") from None
    reader = csv.DictReader(text.splitlines())
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [name for name in ("channel",) if name not in header]
    unknown = [name for name in header if name and name not in RULE_COLUMNS]
    if missing or unknown:
        raise TouchpointError(
            f"channel rules {path}: the header must be {','.join(RULE_COLUMNS)}"
            f" ({'unknown column ' + unknown[0] if unknown else 'no channel column'})"
        )
    reader.fieldnames = header
    rules = []
    for row in reader:
        channel = (row.get("channel") or "").strip()
        if not channel:
            raise TouchpointError(f"channel rules {path}:{reader.line_num}: the channel is empty")
        patterns = []
        for column in RULE_MATCH_COLUMNS:
            cell = (row.get(column) or "").strip()
            if cell:
                alternatives = tuple(wildcard_regex(p) for p in cell.split(";") if p.strip())
                patterns.append((column, alternatives))
        subchannel = (row.get("subchannel") or "").strip() or None
        rules.append(ChannelRule(reader.line_num, channel, subchannel, tuple(patterns)))
    return tuple(rules)


def _rule_matches(table: ir.Table, rule: ChannelRule) -> ir.BooleanValue:
    condition = ibis.literal(True)
    for column, alternatives in rule.patterns:
        value = table[column].lower().fill_null("")
        values = [value]
        if column in ("landing_page", "referrer"):
            values.append(value.re_replace(r"^https?://", ""))
        matched = ibis.literal(False)
        for regex in alternatives:
            for candidate in values:
                matched |= candidate.re_search(regex)
        condition &= matched
    return condition


def classify(table: ir.Table, rules: tuple[ChannelRule, ...], replace_defaults: bool) -> ir.Table:
    """Add `channel` and `subchannel` to a table with source, medium, campaign, landing_page
    and referrer: the user's rules first, then (unless replaced) the GA4 defaults."""
    categories = source_categories()
    joined = table.left_join(categories, table.source.lower() == categories.category_source)
    subchannel = default_subchannel(joined.source)
    if replace_defaults:
        channel = ibis.literal("Unassigned")
        subchannel = ibis.null("string")
    else:
        channel = default_channel(
            joined.source, joined.medium, joined.campaign, joined.source_category
        )
    if rules:
        matches = [(_rule_matches(joined, rule), rule) for rule in rules]
        channel = ibis.cases(*((m, rule.channel) for m, rule in matches), else_=channel)
        subchannel = ibis.cases(
            *(
                (m, ibis.literal(rule.subchannel) if rule.subchannel else subchannel)
                for m, rule in matches
            ),
            else_=subchannel,
        )
    return joined.mutate(channel=channel, subchannel=subchannel).drop(
        "category_source", "source_category"
    )
