"""The tracking snippet as served: `data/tp.js` with this site's settings written in.

The file is plain JavaScript that runs as it is; the server only replaces the
settings object between the two `/*tp-config*/` markers (cookie name, cookie
domain, whether Global Privacy Control and Do Not Track are honoured), then serves the bytes with a strong ETag and
a gzip copy, computed once at start. With `[[numbers.pools]]`, `data/tp-numbers.js`
(dynamic number insertion, DESIGN §15) follows in the same file, the pools written
between its `/*tp-numbers*/` markers; a site without pools never gets it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import phonenumbers

from touchpoint.config import CollectorSettings
from touchpoint.config.numbers import NumberPool

_CONFIG = re.compile(r"/\*tp-config\*/.*?/\*tp-config\*/", re.DOTALL)
_POOLS = re.compile(r"/\*tp-numbers\*/.*?/\*tp-numbers\*/", re.DOTALL)


def snippet_source(name: str = "tp.js") -> str:
    """The snippet (or its number-insertion part, `tp-numbers.js`) exactly as shipped."""
    return resources.files("touchpoint").joinpath(f"data/{name}").read_text(encoding="utf-8")


def pool_config(pool: NumberPool) -> dict[str, Any]:
    """What the snippet needs to find a pool's business number in any common written form.

    >>> pool_config(NumberPool(name="main", numbers=("+15125550101",), replace="+15125550100"))
    {'name': 'main', 'replace': '+15125550100', 'national': '5125550100', 'cc': '1', 'trunk': '1'}
    """
    number = phonenumbers.parse(pool.replace)
    region = phonenumbers.region_code_for_number(number)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region) if region else None
    return {
        "name": pool.name,
        "replace": pool.replace,
        "national": phonenumbers.national_significant_number(number),
        "cc": str(number.country_code),
        "trunk": (metadata.national_prefix if metadata else None) or "",
    }


def _written_in(source: str, marker: re.Pattern[str], value: object) -> str:
    text, replaced = marker.subn(lambda _m: json.dumps(value), source, count=1)
    if replaced != 1:
        raise RuntimeError(f"the snippet has lost its {marker.pattern[:16]} markers")
    return text


@dataclass(frozen=True)
class Snippet:
    """The bytes `GET /tp.js` answers with."""

    body: bytes
    gzipped: bytes
    etag: str

    @classmethod
    def build(cls, collector: CollectorSettings, pools: Sequence[NumberPool] = ()) -> Snippet:
        """The snippet configured by the `[collector]` settings and the number pools."""
        config = {
            "cookie": collector.cookie_name,
            "domain": collector.cookie_domain,
            "gpc": collector.honor_gpc,
            "dnt": collector.honor_dnt,
        }
        source = _written_in(snippet_source(), _CONFIG, config)
        if pools:
            # Pools sharing a business number: one with `channels` is the more specific.
            ordered = sorted(pools, key=lambda pool: not pool.channels)
            numbers = [pool_config(pool) for pool in ordered]
            source += _written_in(snippet_source("tp-numbers.js"), _POOLS, numbers)
        body = source.encode("utf-8")
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return cls(body=body, gzipped=gzip.compress(body, 9, mtime=0), etag=etag)
