"""Google Ads' offline-conversion upload file, and what a conversion is to Google (DESIGN §13).

Two ways out. `touchpoint export conversions --destination google-ads` writes
the offline-conversion upload file as Google's help describes it
(support.google.com/google-ads/answer/7014069): a `Parameters:TimeZone=...`
line, then `Google Click ID,Conversion Name,Conversion Time,Conversion
Value,Conversion Currency`, times as `yyyy-mm-dd hh:mm:ss` in that zone. That
column takes gclids only: a conversion earned by a gbraid or wbraid (iOS) goes
out through the API. `touchpoint push google-ads` sends every one through the
Data Manager API (`google_ads_push`), exactly once.

A conversion goes to the action `[destinations.google-ads] actions` names for
its kind; a kind with no name is not sent. Under a multi-touch model each click
carries its share of the value (value x credit).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from touchpoint.config import Settings
from touchpoint.destinations.conversions import (
    GOOGLE_CLICK_IDS,
    Click,
    Conversion,
    load_conversions,
)
from touchpoint.destinations.destination import ExportResult

NAME = "google-ads"
TITLE = "Google Ads"
HEADER = (
    "Google Click ID",
    "Conversion Name",
    "Conversion Time",
    "Conversion Value",
    "Conversion Currency",
)


@dataclass(frozen=True)
class Upload:
    """One conversion and click as Google takes it."""

    conversion: Conversion
    click: Click
    action: str  # the conversion action's name

    @property
    def value(self) -> float | None:
        if self.conversion.value is None:
            return None
        return round(self.conversion.value * self.click.credit, 2)

    @property
    def transaction_id(self) -> str:
        """The conversion's id; with several clicks of one conversion, the click's too, so
        that Google does not take the second for a duplicate of the first."""
        if self.click.credit >= 1.0:
            return self.conversion.conversion_id
        return f"{self.conversion.conversion_id}|{self.click.click_id}"


def uploads(settings: Settings, conversions: list[Conversion]) -> Iterator[Upload]:
    """Every (conversion, click) with a named action, oldest first."""
    actions = settings.destinations.google_ads.actions
    for conversion in conversions:
        action = actions.get(conversion.kind, "")
        if not action:
            continue
        for click in conversion.clicks:
            if click.param in GOOGLE_CLICK_IDS:
                yield Upload(conversion, click, action)


def time_zone(settings: Settings) -> str:
    return settings.destinations.google_ads.time_zone or settings.site.timezone


def export_upload_file(settings: Settings, since: datetime | None = None) -> ExportResult:
    """The upload file of the latest build's conversions (`export conversions`)."""
    text, written, skipped = upload_file(
        settings, load_conversions(settings, GOOGLE_CLICK_IDS, since)
    )
    notes = []
    if skipped:
        notes.append(
            f"{skipped:,} conversions earned by iOS clicks (gbraid, wbraid) are not in the "
            "file (its Google Click ID column takes gclids): push google-ads sends them"
        )
    return ExportResult(text, written, notes)


def upload_file(settings: Settings, conversions: list[Conversion]) -> tuple[str, int, int]:
    """The upload file's text, the rows written and the iOS clicks it cannot hold."""
    zone_name = time_zone(settings)
    zone = ZoneInfo(zone_name)
    currency = settings.site.currency
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    text.write(f"Parameters:TimeZone={zone_name}\n")
    writer.writerow(HEADER)
    written = skipped = 0
    for upload in uploads(settings, conversions):
        if upload.click.param != "gclid":
            skipped += 1
            continue
        value = upload.value
        writer.writerow(
            (
                upload.click.click_id,
                upload.action,
                _local(upload.conversion.occurred_at, zone),
                "" if value is None else f"{value:.2f}",
                "" if value is None else currency,
            )
        )
        written += 1
    return text.getvalue(), written, skipped


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
