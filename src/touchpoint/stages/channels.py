"""Source, medium and channel (DESIGN §3), as Ibis expressions for every backend.

Source and medium are derived as GA4 does: Google's auto-tagging click ids
first (unless `[channels] manual_tags_override`), then `utm_*`, then the other ad
click ids, then an external referrer, then `(not set)` for a tagged URL nothing
else names and `(direct)` / `(none)` for the rest. The channel is the GA4 default
channel group, after the user's own rules (the reference product's CSV layout)
when there are any.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from functools import cache
from importlib import resources

import ibis
import ibis.expr.types as ir

from touchpoint.sources.urls import AUTO_TAGGED_CLICK_IDS, CLICK_IDS
from touchpoint.stages.channel_rules import ChannelRule, rule_matches

PAID_MEDIUM = r"^(.*cp.*|ppc|retargeting|paid.*)$"
SHOP_CAMPAIGN = r"^(.*(([^a-df-z]|^)shop|shopping).*)$"
DIRECT_SOURCE = "(direct)"
NO_MEDIUM = "(none)"
NOT_SET = "(not set)"

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
# The category list is looked up on a referrer host and this many levels of it (the
# host, then its parent domains), then on the host's canonical source name.
_HOST_LEVELS = 5

# How a canonical source is written as a subchannel when capitalising is not enough.
SUBCHANNEL_NAMES = {
    "linkedin": "LinkedIn",
    "youtube": "YouTube",
    "tiktok": "TikTok",
    "duckduckgo": "DuckDuckGo",
    "chatgpt": "ChatGPT",
}


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


def _parent_domain(host: ir.StringValue, level: int) -> ir.StringValue:
    # The host without its first `level` labels (unchanged when it has too few).
    return host if level == 0 else host.re_replace(rf"^([^.]+\.){{{level}}}", "")


def referrer_sources(hosts: ir.Table) -> ir.Table:
    """Canonical source and source category for each distinct `referrer_host`.

    The GA4 list is matched on the full host, then on its parent domains, then on the
    canonical name, so a host the list files apart from its brand keeps its own
    category (groups.google.com is social, google is search); such a host is its own
    source, as GA4 names it. Works on the distinct hosts only, so the patterns run
    over thousands of rows, not over every event.
    """
    host = hosts.referrer_host
    named = hosts.select(
        referrer_host=host,
        bare_host=host.re_replace(_STRIPPED_PREFIX, ""),
        canonical=ibis.cases(
            *((host.re_search(pattern), name) for pattern, name in REFERRER_PATTERNS),
            else_=host.re_replace(_STRIPPED_PREFIX, ""),
        ),
    )
    levels = [
        named.select(
            "referrer_host",
            rank=ibis.literal(level, "int64"),
            name=_parent_domain(named.referrer_host, level),
        )
        for level in range(_HOST_LEVELS)
    ]
    by_name = named.select(
        "referrer_host", rank=ibis.literal(_HOST_LEVELS, "int64"), name=named.canonical
    )
    candidates = ibis.union(*levels, by_name)
    # A domain candidate has a dot: the list's bare brand names ("google") are names.
    candidates = candidates.filter(
        candidates.name.contains(".") | (candidates.rank == _HOST_LEVELS)
    )
    categories = source_categories()
    found = candidates.join(categories, candidates.name == categories.category_source)
    key = found.rank.cast("string") + found.source_category  # the nearest level sorts first
    nearest = found.group_by("referrer_host").aggregate(
        host_key=key.min(where=found.rank < _HOST_LEVELS),
        name_key=key.min(where=found.rank == _HOST_LEVELS),
    )
    joined = named.left_join(nearest, "referrer_host").drop("referrer_host_right")
    host_category = joined.host_key.substr(1)
    name_category = joined.name_key.substr(1)
    own = host_category.notnull() & name_category.notnull() & (host_category != name_category)
    category = ibis.coalesce(host_category, name_category)
    return joined.select(
        "referrer_host",
        referrer_source=ibis.ifelse(own, joined.bare_host, joined.canonical),
        referrer_category=category,
        referrer_is_search=(category == "SEARCH").fill_null(False),
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


def source_medium(
    utm_source: ir.StringValue,
    utm_medium: ir.StringValue,
    tagged: ir.BooleanValue,
    click_param: ir.StringValue,
    referrer_source: ir.StringValue,
    referrer_category: ir.StringValue,
    manual_tags_override: bool,
) -> tuple[ir.StringValue, ir.StringValue, ir.StringValue]:
    """Source, medium and the referrer's category (when the source is the referrer's).

    `tagged`: the URL carries campaign tags; `referrer_source`: NULL unless the
    referrer is external. Google's auto-tagging ids give google / cpc before any
    `utm_*` unless `manual_tags_override`; a tagged URL that nothing else names has
    source `(not set)`, not `(direct)`, as in GA4.
    """
    utm_source = _blank_to_null(utm_source.lower())
    utm_medium = _blank_to_null(utm_medium.lower())
    click_source, click_medium = click_source_medium(click_param)
    from_referrer = ibis.ifelse(referrer_category.fill_null("") == "SEARCH", "organic", "referral")
    referrer_medium = ibis.ifelse(referrer_source.notnull(), from_referrer, ibis.null("string"))
    named = ibis.coalesce(utm_source, click_source, referrer_source)
    untraced = tagged.fill_null(False) & named.isnull()
    source = ibis.coalesce(named, ibis.ifelse(untraced, NOT_SET, DIRECT_SOURCE))
    medium = ibis.coalesce(
        utm_medium, click_medium, referrer_medium, ibis.ifelse(untraced, NOT_SET, NO_MEDIUM)
    )
    by_referrer = utm_source.isnull() & click_source.isnull() & referrer_source.notnull()
    if not manual_tags_override:
        auto_tagged = click_param.isin(AUTO_TAGGED_CLICK_IDS).fill_null(False)
        source = ibis.ifelse(auto_tagged, click_source, source)
        medium = ibis.ifelse(auto_tagged, click_medium, medium)
    category = ibis.ifelse(by_referrer, referrer_category, ibis.null("string"))
    return source, medium, category


def acquisition(
    events: ir.Table, domains: Sequence[str], manual_tags_override: bool = False
) -> ir.Table:
    """Add each event's derived source, medium and whether it is a new acquisition.

    `events` carries the referrer lookup's `referrer_source` and `referrer_category`.
    """
    external = events.referrer_host.notnull() & ~is_internal(
        events.referrer_host, events.page_host, domains
    ).fill_null(False)
    external = external.fill_null(False)
    campaign_tagged = (
        events.utm_medium.notnull()
        | events.utm_campaign.notnull()
        | events.utm_content.notnull()
        | events.utm_term.notnull()
    )
    source, medium, category = source_medium(
        events.utm_source,
        events.utm_medium,
        campaign_tagged,
        events.click_id_param,
        ibis.ifelse(external, events.referrer_source, ibis.null("string")),
        events.referrer_category,
        manual_tags_override,
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
        referrer_category=category,
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
    """The canonical source, capitalised (`Google`, `LinkedIn`); none for direct or not set."""
    capitalised = source.substr(0, 1).upper() + source.substr(1)
    return ibis.cases(
        (source.isnull() | source.isin((DIRECT_SOURCE, NOT_SET)), ibis.null("string")),
        *((source == name, shown) for name, shown in SUBCHANNEL_NAMES.items()),
        else_=capitalised,
    )


def classify(table: ir.Table, rules: tuple[ChannelRule, ...], replace_defaults: bool) -> ir.Table:
    """Add `channel` and `subchannel` to a table with source, medium, referrer_category,
    campaign, landing_page and referrer: the user's rules first, then (unless replaced)
    the GA4 defaults. The category is the referrer host's when the source came from the
    referrer, else the source name's."""
    categories = source_categories()
    joined = table.left_join(categories, table.source.lower() == categories.category_source)
    subchannel = default_subchannel(joined.source)
    if replace_defaults:
        channel = ibis.literal("Unassigned")
        subchannel = ibis.null("string")
    else:
        category = ibis.coalesce(joined.referrer_category, joined.source_category)
        channel = default_channel(joined.source, joined.medium, joined.campaign, category)
    if rules:
        matches = [(rule_matches(joined, rule), rule) for rule in rules]
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
