"""Google Ads as a destination (DESIGN §13): conversions keyed on Google's click ids.

The declaration only: the upload file is `google_ads_file`, the push through the
Data Manager API `google_ads_push` (loaded when a push runs).
"""

from __future__ import annotations

from datetime import datetime

from touchpoint.config import Settings
from touchpoint.destinations.destination import Destination, Progress, PushResult, no_progress
from touchpoint.destinations.google_ads_file import NAME, TITLE, export_upload_file


def _push(
    settings: Settings, *, dry_run: bool = False, progress: Progress = no_progress
) -> PushResult:
    return push_since(settings, dry_run=dry_run, progress=progress, since=None)


def push_since(
    settings: Settings,
    *,
    dry_run: bool = False,
    progress: Progress = no_progress,
    since: datetime | None = None,
) -> PushResult:
    from touchpoint.destinations.google_ads_push import push_google_ads

    return push_google_ads(settings, dry_run=dry_run, progress=progress, since=since)


GOOGLE_ADS = Destination(
    name=NAME,
    title=TITLE,
    push=_push,
    interval=lambda settings: settings.destinations.interval,
    push_since=push_since,
    export=export_upload_file,
)
