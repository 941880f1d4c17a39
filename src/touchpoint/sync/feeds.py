"""The vendors whose calls `touchpoint sync` downloads: one `CallFeed` each, by command name."""

from __future__ import annotations

from touchpoint.sync.callrail import CALLRAIL_CALLS
from touchpoint.sync.ctm import CTM_CALLS
from touchpoint.sync.vendor_calls import CallFeed

CALL_FEEDS: dict[str, CallFeed] = {"callrail": CALLRAIL_CALLS, "ctm": CTM_CALLS}
