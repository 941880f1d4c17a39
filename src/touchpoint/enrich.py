"""What an event's URL and referrer say, read once when the event arrives.

These facts do not depend on settings, so they are kept with the raw event and
every build reuses them: the page and referrer hosts, the `utm_*` parameters
and the ad click id.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

# DESIGN §3: ad click ids, in the order they are looked for.
CLICK_ID_PARAMS = ("gclid", "gbraid", "wbraid", "msclkid", "li_fat_id", "ttclid", "twclid", "fbclid")
UTM_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


@dataclass(frozen=True, slots=True)
class UrlFacts:
    host: str | None
    path: str | None
    utm: dict[str, str]
    click_id: str | None
    click_id_param: str | None


def host_of(url: str | None) -> str | None:
    """The lower-case host of an absolute URL, without port; None when there is none.

    >>> host_of("https://WWW.Example.com:8443/a?b=1")
    'www.example.com'
    >>> host_of("android-app://com.google.android.gm/") is None
    False
    """
    if not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host.rstrip(".") or None if host else None


def url_facts(url: str) -> UrlFacts:
    """Host, path, campaign parameters and click id of a page URL.

    >>> facts = url_facts("https://example.com/pricing?utm_source=Google&utm_medium=cpc&gclid=x1")
    >>> facts.host, facts.path, facts.utm["utm_source"], facts.click_id_param
    ('example.com', '/pricing', 'Google', 'gclid')
    """
    parts = urlsplit(url)
    params: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        name = key.strip().lower()
        if name not in params and value.strip():
            params[name] = value.strip()
    utm = {name: params[name] for name in UTM_PARAMS if name in params}
    click_param = next((name for name in CLICK_ID_PARAMS if name in params), None)
    host = parts.hostname.rstrip(".") if parts.hostname else None
    return UrlFacts(
        host=host or None,
        path=parts.path or "/",
        utm=utm,
        click_id=params[click_param] if click_param else None,
        click_id_param=click_param,
    )
