"""One page of a sync lands: its rows, its rejects and the moved watermark, all or nothing.

`sync salesforce` and `sync callrail` / `sync ctm` read pages of records from an
API; each page lands in one transaction with its rejects and the watermark, so
a sync that fails or stops resumes after the last stored page. What the pages
gave adds up in a `PageCounts`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from touchpoint.importers import reject_rows
from touchpoint.privacy.suppression import SUPPRESSED
from touchpoint.sources.records import ParseReport, Reject, RowBatches
from touchpoint.store import Store

FIRST_REJECTS = 5  # how many rejects a summary shows


@dataclass(kw_only=True)
class PageCounts:
    """What a sync's pages gave so far, as its summary shows them."""

    pages: int = 0
    read: int = 0
    new: int = 0
    rejected: int = 0
    first_rejects: list[Reject] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # by reason: not of this kind

    @property
    def already_present(self) -> int:
        return self.read - self.rejected - self.skipped.total() - self.new


def land_page(
    store: Store,
    table: str,
    kind: str,
    batches: RowBatches,
    report: ParseReport,
    counts: PageCounts,
    checkpoint: tuple[str, str] | None = None,
    kept: RowBatches | None = None,
) -> None:
    """Land one page's rows with its rejects (of `kind`, as `import` names it) and, when
    given, the checkpoint's new value, all or nothing; add what it gave to `counts`.

    `kept` rows land too (records kept raw that are not of the kind synced: Tasks
    that are not calls); they were counted as skipped, not as new.
    """
    received_at = batches.fixed["received_at"]
    with store.transaction(), store.staging(table) as staged:
        staged.append(batches.take())
        landed = store.land(staged)
        if staged.suppressed:  # erased people's records (DESIGN §16)
            report.skipped[SUPPRESSED] += staged.suppressed
        if kept is not None and len(kept):
            store.insert_new(table, [kept.take()])
        store.insert_new("rejects", [reject_rows(kind, report.rejects, received_at)])
        if checkpoint is not None:
            store.set_checkpoint(*checkpoint)
    counts.pages += 1
    counts.read += report.seen
    counts.new += landed
    counts.rejected += len(report.rejects)
    counts.skipped.update(report.skipped)
    counts.first_rejects.extend(report.rejects[: FIRST_REJECTS - len(counts.first_rejects)])
