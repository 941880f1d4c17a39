"""Salesforce as a destination (DESIGN §14): touchpoints and attribution into the org.

The declaration only: the engine (`salesforce_push`) and what it reads load when
a push runs, so the command line starts without them.
"""

from __future__ import annotations

from touchpoint.config import Settings
from touchpoint.destinations.destination import Destination, Progress, PushResult, no_progress


def _push(
    settings: Settings, *, dry_run: bool = False, progress: Progress = no_progress
) -> PushResult:
    from touchpoint.destinations.salesforce_push import push_salesforce

    return push_salesforce(settings, dry_run=dry_run, progress=progress)


SALESFORCE = Destination(
    name="salesforce",
    title="Salesforce",
    push=_push,
    interval=lambda settings: settings.salesforce.push.interval,
)
