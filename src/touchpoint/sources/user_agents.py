"""What is kept of a user agent (DESIGN §16): browser, OS and device class, not the string.

The string is read with ua-parser (the uap-core rules, bundled by
`ua-parser-builtins`). ua-parser names browsers, systems and devices but has
no device class, so `describe` derives one from what it found: a bot, a
tablet, a phone ("mobile"), a desktop system, or "other" (curl, a TV, a
console, anything unknown).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import ua_parser

DEVICES = ("desktop", "mobile", "tablet", "bot", "other")

# Crawlers ua-parser does not name a Spider, and headless browsers (scripts, not people).
_BOT = re.compile(r"bot\b|bot[/_;-]|crawl|spider|slurp|headless|phantomjs|lighthouse", re.I)
_TABLET_DEVICES = re.compile(r"^(ipad|kindle|nexus (7|9|10)|playbook|touchpad|surface)", re.I)
_MOBILE_SYSTEMS = frozenset(
    ("iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS", "Symbian OS")
)
_DESKTOP_SYSTEMS = frozenset(
    (
        "Windows",
        "Mac OS X",
        "Linux",
        "Ubuntu",
        "Fedora",
        "Debian",
        "Chrome OS",
        "ChromeOS",
        "FreeBSD",
        "OpenBSD",
        "NetBSD",
        "Solaris",
    )
)


@dataclass(frozen=True, slots=True)
class UserAgent:
    browser: str | None  # family only ("Chrome", "Mobile Safari", "Edge"), no version
    os: str | None  # family only ("Windows", "iOS", "Android")
    device: str | None  # one of DEVICES; None when there was no user agent


NONE = UserAgent(None, None, None)


def describe(user_agent: str | None) -> UserAgent:
    """Browser, OS and device class of a User-Agent header.

    >>> describe("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    ...          "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1")
    UserAgent(browser='Mobile Safari', os='iOS', device='mobile')
    >>> describe("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)").device
    'bot'
    """
    if not user_agent:
        return NONE
    return _describe(user_agent)


@lru_cache(maxsize=4096)
def _describe(user_agent: str) -> UserAgent:
    # Few distinct user agents send most events: each is parsed once.
    found = ua_parser.parse(user_agent)
    browser = found.user_agent.family if found.user_agent else None
    system = found.os.family if found.os else None
    device = found.device
    return UserAgent(
        browser=None if browser == "Other" else browser,
        os=None if system == "Other" else system,
        device=_device_class(
            user_agent,
            system,
            device.family if device else None,
            device.brand if device else None,
        ),
    )


def _device_class(
    user_agent: str, system: str | None, family: str | None, brand: str | None
) -> str:
    if family == "Spider" or _BOT.search(user_agent):
        return "bot"
    if (family and _TABLET_DEVICES.match(family)) or (brand and brand.endswith("_Tablet")):
        return "tablet"
    if system == "Android" and "mobile" not in user_agent.lower():
        return "tablet"  # Android tablets leave "Mobile" out, as Google asks them to
    if system in _MOBILE_SYSTEMS or "Mobi" in user_agent:
        return "mobile"
    if system in _DESKTOP_SYSTEMS:
        return "desktop"
    return "other"
