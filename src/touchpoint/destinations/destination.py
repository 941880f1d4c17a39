"""What every destination declares (`Destination`) and what a push of one returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from touchpoint.config import Settings

# (object, records done so far, records to do)
Progress = Callable[[str, int, int], None]


def no_progress(_object: str, _done: int, _total: int) -> None:
    pass


@dataclass
class ObjectPush:
    """What a push did (or, dry, would do) for one object of the destination."""

    name: str
    records: int = 0  # what the build gives for it
    upserted: int = 0  # sent and written
    created: int = 0
    updated: int = 0
    unchanged: int = 0  # the same as last time: not sent
    deleted: int = 0
    rejected: int = 0  # refused, here (a value that does not fit) or by the destination
    to_upsert: int = 0  # a dry run's plan (and a real run's)
    to_delete: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)  # a dry run's first records


@dataclass
class PushResult:
    """A push to one destination: per object, why it stopped early, what to know."""

    destination: str
    target: str = ""  # where it went (an instance URL), never a credential
    dry_run: bool = False
    objects: list[ObjectPush] = field(default_factory=list)
    stopped: str | None = None
    notes: list[str] = field(default_factory=list)
    rejects: list[tuple[str, str]] = field(default_factory=list)  # (record, reason), the first few
    api_used: int | None = None
    api_total: int | None = None
    seconds: float = 0.0

    def total(self, count: str) -> int:
        return sum(int(getattr(o, count)) for o in self.objects)


class PushFunction(Protocol):
    def __call__(
        self, settings: Settings, *, dry_run: bool = False, progress: Progress = no_progress
    ) -> PushResult: ...


class SincePushFunction(Protocol):
    """A push that can leave out what happened before a time (`push D --since DATE`)."""

    def __call__(
        self,
        settings: Settings,
        *,
        dry_run: bool = False,
        progress: Progress = no_progress,
        since: datetime | None = None,
    ) -> PushResult: ...


@dataclass
class ExportResult:
    """A destination's upload file (`export conversions --destination D`)."""

    text: str
    rows: int
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Destination:
    """A place results are sent: its name on the command line, its push, its schedule."""

    name: str
    title: str
    push: PushFunction
    interval: Callable[[Settings], str]  # the setting `serve` pushes on ("" = never)
    # DESIGN §13, the ad platforms: `--since`, and the upload file of the conversions.
    push_since: SincePushFunction | None = None
    export: Callable[[Settings, datetime | None], ExportResult] | None = None
