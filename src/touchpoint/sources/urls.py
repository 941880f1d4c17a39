"""What an event's URL and referrer say, read once when the event arrives.

These facts do not depend on settings, so they are kept with the raw event and
every build reuses them: the page and referrer hosts, the `utm_*` parameters
and the ad click id.

Each rule is written twice on purpose: in Python (for events arriving over
HTTP, and as the specification) and as DuckDB SQL (for files of millions of
events). Both use the same regular expressions below, and a property test
holds the two to the same answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from urllib.parse import unquote

# DESIGN §3: the ad click ids, in the order they are looked for (in a URL and in a
# vendor's record), with the source and medium each stands for. fbclid has no
# medium of its own: it is on organic links too, so the referrer gives it.
CLICK_IDS: dict[str, tuple[str, str | None]] = {
    "gclid": ("google", "cpc"),
    "gbraid": ("google", "cpc"),
    "wbraid": ("google", "cpc"),
    "msclkid": ("bing", "cpc"),
    "li_fat_id": ("linkedin", "cpc"),
    "ttclid": ("tiktok", "cpc"),
    "twclid": ("twitter", "cpc"),
    "fbclid": ("facebook", None),
}
CLICK_ID_PARAMS = tuple(CLICK_IDS)
# DESIGN §12: Google Ads auto-tagging. GA4 takes these over `utm_source` / `utm_medium`
# unless `[channels] manual_tags_override` is set; the other click ids come after utm_*.
AUTO_TAGGED_CLICK_IDS = ("gclid", "gbraid", "wbraid")
UTM_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")

# Whitespace that is trimmed from text fields: ASCII only, the same in Python and SQL.
WHITESPACE = " \t\n\r\f\v"
HOST = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)"
PATH = r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*([^?#]*)"
QUERY = r"^[^?#]*\?([^#]*)"
HTTP_URL = r"^[Hh][Tt][Tt][Pp][Ss]?://"

_HOST = re.compile(HOST)
_PATH = re.compile(PATH)
_QUERY = re.compile(QUERY)
_HTTP_URL = re.compile(HTTP_URL)


def param_regex(name: str) -> str:
    """The first `name=value` pair in a query string prefixed with `&`, any case."""
    return rf"(?i)&{re.escape(name)}=([^&]*)"


_WANTED = frozenset((*UTM_PARAMS, *CLICK_ID_PARAMS))


def strip(text: str) -> str:
    return text.strip(WHITESPACE)


@dataclass(frozen=True, slots=True)
class UrlFacts:
    host: str | None
    path: str
    utm: Mapping[str, str]
    click_id: str | None
    click_id_param: str | None


def is_http_url(url: str) -> bool:
    return _HTTP_URL.match(url) is not None


def host_of(url: str | None) -> str | None:
    """The lower-case host of an absolute URL, without port; None when there is none.

    >>> host_of("https://WWW.Example.com:8443/a?b=1")
    'www.example.com'
    >>> host_of("android-app://com.google.android.gm/")
    'com.google.android.gm'
    """
    if not url:
        return None
    match = _HOST.match(url)
    if match is None:
        return None
    host = match.group(1).lower().rstrip(".")
    return host or None


def decode_param(value: str) -> str | None:
    """A query value as text: `+` is a space, %XX decoded when it gives UTF-8 text."""
    spaced = value.replace("+", " ")
    if "%" not in spaced:
        decoded = spaced  # what `unquote` returns then, without its cost (most values)
    else:
        try:
            decoded = unquote(spaced, errors="strict")
        except UnicodeDecodeError:
            decoded = value
    decoded = strip(decoded)
    return decoded or None


@lru_cache(maxsize=4096)
def url_facts(url: str) -> UrlFacts:
    """Host, path, campaign parameters and click id of a page URL.

    Cached: page URLs repeat, and this runs for every event the collector takes.
    The cache is small because the garbage collector walks every entry again and
    again, and URLs with click ids never repeat. The query is split once; for each
    parameter the first `name=` (any case) counts, as `param_regex` finds it in SQL.

    >>> facts = url_facts("https://example.com/pricing?utm_source=Google&utm_medium=cpc&gclid=x1")
    >>> facts.host, facts.path, facts.utm["utm_source"], facts.click_id_param
    ('example.com', '/pricing', 'Google', 'gclid')
    """
    query_match = _QUERY.match(url)
    found: dict[str, str] = {}
    if query_match:
        for part in query_match.group(1).split("&"):
            name, equals, value = part.partition("=")
            if equals:
                name = name.lower()
                if name in _WANTED and name not in found:
                    found[name] = value
    params = {}
    for name, raw in found.items():
        decoded = decode_param(raw)
        if decoded is not None:
            params[name] = decoded
    click_param = None
    for name in CLICK_ID_PARAMS:
        if name in params:
            click_param = name
            break
    path_match = _PATH.match(url)
    return UrlFacts(
        host=host_of(url),
        path=(path_match.group(1) if path_match else "") or "/",
        utm=MappingProxyType({name: params[name] for name in UTM_PARAMS if name in params}),
        click_id=params[click_param] if click_param else None,
        click_id_param=click_param,
    )


def dropped_params_regex(names: Iterable[str]) -> str:
    """A regex matching a whole query-parameter name that is one of `names`, any case."""
    return "(?i)(?:" + "|".join(re.escape(name) for name in sorted(set(names))) + ")"


@lru_cache(maxsize=64)
def _name_pattern(names: frozenset[str]) -> re.Pattern[str]:
    return re.compile(dropped_params_regex(names))


def drop_params(url: str, names: frozenset[str]) -> str:
    """`url` without the query parameters named in `names` (DESIGN §16), the rest as it was.

    A parameter's name counts with %XX decoded and in any case; the other
    parameters, their order and the fragment stay byte for byte.

    >>> drop_params("https://a.com/?utm_source=x&Email=me%40b.com&e%2Dmail=c#top", frozenset({"email", "e-mail"}))
    'https://a.com/?utm_source=x#top'
    """
    start = url.find("?")
    if start < 0 or not names:
        return url
    end = url.find("#")
    if 0 <= end < start:
        return url  # the "?" is in the fragment
    if end < 0:
        end = len(url)
    pattern = _name_pattern(names)
    parts = url[start + 1 : end].split("&")
    kept = [part for part in parts if not pattern.fullmatch(_param_name(part))]
    if len(kept) == len(parts):
        return url
    query = "&".join(kept)
    return url[:start] + ("?" + query if query else "") + url[end:]


def _param_name(part: str) -> str:
    name = part.partition("=")[0]
    if "%" not in name:
        return name
    try:
        return unquote(name, errors="strict")
    except UnicodeDecodeError:
        return name


# -- the same rules in DuckDB SQL ---------------------------------------------


def sql_drop_params(expr: str, names: frozenset[str]) -> str:
    """SQL for `drop_params` of a text column."""
    if not names:
        return expr
    start = f"strpos({expr}, '?')"
    hash_at = f"strpos({expr}, '#')"
    end = f"CASE WHEN {hash_at} = 0 THEN length({expr}) + 1 ELSE {hash_at} END"
    name = "split_part(_p, '=', 1)"
    decoded = f"coalesce(try(url_decode({name})), {name})"
    parts = f"string_split(substr({expr}, {start} + 1, {end} - {start} - 1), '&')"
    pattern = sql_string(dropped_params_regex(names))
    kept_parts = f"list_filter({parts}, lambda _p: NOT regexp_full_match({decoded}, {pattern}))"
    kept = f"array_to_string({kept_parts}, '&')"
    # Only URLs whose query may hold a dropped name (or an encoded one) are looked at,
    # and only those that lose a parameter are rebuilt.
    listed = "|".join(re.escape(name) for name in sorted(names))
    mentions = sql_string(rf"(?i)[?&](?:[^=&#]*%|(?:{listed})(?:[=&#]|$))")
    return (
        f"CASE WHEN {start} > 0 AND ({hash_at} = 0 OR {hash_at} > {start}) "
        f"AND regexp_matches({expr}, {mentions}) AND len({kept_parts}) < len({parts}) "
        f"THEN substr({expr}, 1, {start} - 1) "
        f"|| CASE WHEN {kept} = '' THEN '' ELSE '?' || {kept} END "
        f"|| substr({expr}, {end}) ELSE {expr} END"
    )


def sql_string(text: str) -> str:
    """A SQL string literal of `text`."""
    return "'" + text.replace("'", "''") + "'"


_SQL_EDGE_SPACE = r"^[ \t\n\r\f\v]|[ \t\n\r\f\v]$"
AUTHORITY = r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)"


def sql_strip(expr: str) -> str:
    """SQL for `strip`: trims only values that need it (most do not, and trim copies)."""
    return (
        f"CASE WHEN regexp_matches({expr}, {sql_string(_SQL_EDGE_SPACE)}) "
        f"THEN trim({expr}, {sql_string(WHITESPACE)}) ELSE {expr} END"
    )


def sql_authority(expr: str) -> str:
    """SQL for the part of a URL between `scheme://` and the path ('' when none)."""
    return f"regexp_extract({expr}, {sql_string(AUTHORITY)}, 1)"


def sql_after_userinfo(authority: str) -> str:
    """SQL for an authority column past its first `@`, if it has one."""
    return (
        f"CASE WHEN strpos({authority}, '@') > 0 "
        f"THEN substr({authority}, strpos({authority}, '@') + 1) ELSE {authority} END"
    )


def sql_host_of(rest: str) -> str:
    """SQL for `host_of` given a `sql_after_userinfo` column.

    A bracketed IPv6 literal up to its `]`, or everything before the first `:`,
    lower-cased, trailing dots dropped — exactly what `HOST` matches. String
    functions on columns, in steps: the single regex was the import's slowest part.
    """
    host = (
        f"CASE WHEN starts_with({rest}, '[') AND strpos({rest}, ']') > 0 "
        f"THEN substr({rest}, 1, strpos({rest}, ']')) ELSE split_part({rest}, ':', 1) END"
    )
    return f"nullif(lower(rtrim({host}, '.')), '')"


def sql_path(expr: str) -> str:
    return f"coalesce(nullif(regexp_extract({expr}, {sql_string(PATH)}, 1), ''), '/')"


def sql_query(expr: str) -> str:
    """SQL for the `&`-prefixed query string of a URL ('' when it has none)."""
    return f"CASE WHEN regexp_matches({expr}, {sql_string(QUERY)}) THEN '&' || regexp_extract({expr}, {sql_string(QUERY)}, 1) ELSE '' END"


def sql_param(query: str, name: str) -> str:
    """SQL for the decoded value of parameter `name` in an `&`-prefixed query."""
    raw = f"regexp_extract({query}, {sql_string(param_regex(name))}, 1)"
    spaced = f"replace({raw}, '+', ' ')"
    decoded = f"coalesce(try(url_decode({spaced})), {raw})"
    return f"nullif(trim({decoded}, {sql_string(WHITESPACE)}), '')"


def sql_is_http_url(expr: str) -> str:
    return f"regexp_matches({expr}, {sql_string(HTTP_URL)})"
