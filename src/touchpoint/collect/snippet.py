"""The tracking snippet as served: `data/tp.js` with this site's settings written in.

The file is plain JavaScript that runs as it is; the server only replaces the
settings object between the two `/*tp-config*/` markers (cookie name, cookie
domain, whether Global Privacy Control and Do Not Track are honoured), then serves the bytes with a strong ETag and
a gzip copy, computed once at start.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import dataclass
from importlib import resources

from touchpoint.config import CollectorSettings

_CONFIG = re.compile(r"/\*tp-config\*/.*?/\*tp-config\*/", re.DOTALL)


def snippet_source() -> str:
    """The snippet exactly as shipped in the package."""
    return resources.files("touchpoint").joinpath("data/tp.js").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Snippet:
    """The bytes `GET /tp.js` answers with."""

    body: bytes
    gzipped: bytes
    etag: str

    @classmethod
    def build(cls, collector: CollectorSettings) -> Snippet:
        """The snippet configured by the `[collector]` settings."""
        config = json.dumps(
            {
                "cookie": collector.cookie_name,
                "domain": collector.cookie_domain,
                "gpc": collector.honor_gpc,
                "dnt": collector.honor_dnt,
            }
        )
        source, replaced = _CONFIG.subn(lambda _m: config, snippet_source(), count=1)
        if replaced != 1:
            raise RuntimeError("data/tp.js has lost its /*tp-config*/ markers")
        body = source.encode("utf-8")
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return cls(body=body, gzipped=gzip.compress(body, 9, mtime=0), etag=etag)
