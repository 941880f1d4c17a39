"""`touchpoint erase`: every trace of a person out of the store, the log and the builds.

With the store held (no build or import runs meanwhile), in this order:

1. who the person is: the named identifiers and everything the store links to
   them (`identities`);
2. every row of every store table that holds them is deleted (`sweep`), and
   their visitor ids, emails and phones go on the suppression list;
3. the intake log's closed and loaded segments are rewritten without their
   records (`segments`; a live server's open segment is left, see there);
4. the store file is rewritten: DuckDB leaves deleted rows' bytes in free
   blocks and in its write-ahead log, so the tables are copied into a fresh
   file that then replaces the old one (no `.wal` stays behind);

then every kept snapshot is replaced by one new build of what is left: the
old ones are deleted, since each holds the person. A reader with an old
snapshot open keeps its file until it opens the next one.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from touchpoint.collect.segments import fsync_dir, intake_dir, recover_abandoned
from touchpoint.config import Settings
from touchpoint.errors import TouchpointError
from touchpoint.privacy.identities import Person, PersonFinder
from touchpoint.privacy.segments import SegmentsRewritten, rewrite_segments, segments_holding
from touchpoint.privacy.suppression import Suppressed, add_to_list, digest
from touchpoint.privacy.sweep import sweep
from touchpoint.sources.phones import to_e164
from touchpoint.store import Store, current_snapshot_path, snapshot_dir

VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class Erasure:
    """What `erase` removed (or, dry, would remove)."""

    dry_run: bool
    person: Person
    rows: dict[str, int] = field(default_factory=dict)  # per store table
    suppressed: int = 0  # identifiers added to the suppression list
    segments: SegmentsRewritten = field(default_factory=SegmentsRewritten)
    files: list[Path] = field(default_factory=list)  # store and snapshot files rewritten
    snapshots_removed: list[Path] = field(default_factory=list)
    build_id: str | None = None  # the build that replaced them
    build_error: str | None = None

    def summary(self) -> dict[str, object]:
        """The `--json` form: counts and file names, never the identifiers themselves."""
        p = self.person
        return {
            "dry_run": self.dry_run,
            "identifiers": {
                "visitor_ids": len(p.visitors),
                "emails": len(p.emails),
                "phones": len(p.phones),
                "crm_records": len(p.crm_ids),
                "calls": len(p.call_ids),
            },
            "rows": self.rows,
            "suppressed": self.suppressed,
            "segments_rewritten": [str(s) for s in self.segments.rewritten],
            "segment_records": self.segments.records,
            "segments_held_open": [str(s) for s in self.segments.held_open],
            "files_rewritten": [str(f) for f in self.files],
            "snapshots_removed": [str(s) for s in self.snapshots_removed],
            "build_id": self.build_id,
            "build_error": self.build_error,
        }


def checked_identifiers(
    visitors: list[str], emails: list[str], phones: list[str], region: str
) -> tuple[set[str], set[str], set[str]]:
    """The identifiers as erase uses them (phones E.164), or one line saying which is wrong."""
    if not (visitors or emails or phones):
        raise TouchpointError("name the person to erase: --visitor ID, --email E or --phone P")
    for visitor in visitors:
        if not VISITOR_ID.match(visitor):
            raise TouchpointError(f"{visitor!r} is not a visitor id (1-64 of A-Z a-z 0-9 _ -)")
    for email in emails:
        if not EMAIL.match(email.strip()):
            raise TouchpointError(f"{email!r} is not an email address")
    numbers = set()
    for phone in phones:
        e164 = to_e164(phone, region)
        if e164 is None:
            raise TouchpointError(
                f"{phone!r} is not a phone number (read with [phone] default_region {region})"
            )
        numbers.add(e164)
    return set(visitors), {e.strip().lower() for e in emails}, numbers


def erase(
    settings: Settings,
    visitors: list[str],
    emails: list[str],
    phones: list[str],
    dry_run: bool = False,
    on_step: Callable[[str], None] = lambda _s: None,
) -> Erasure:
    """Remove every trace of the person these identifiers name (DESIGN §16)."""
    region = settings.phone.default_region
    named = checked_identifiers(visitors, emails, phones, region)
    fresh = settings.db.with_name(f".{settings.db.name}.erasing")
    with Store.open(settings) as store:
        on_step("finding the person")
        finder = PersonFinder(store.con, region, settings.identity.max_visitors_per_phone)
        person = finder.find(*named)
        done = Erasure(dry_run, person)
        on_step("deleting rows")
        if not dry_run:
            store.con.execute("BEGIN TRANSACTION")
        done.rows = sweep(store.con, person, dry_run)
        directory = intake_dir(settings)
        drop = record_names(person, region)
        if dry_run:
            for path, count in segments_holding(directory, drop):
                done.segments.rewritten.append(path)
                done.segments.records += count
            done.snapshots_removed = sorted(snapshot_dir(settings.db).glob("build-*.duckdb"))
            return done
        done.suppressed = add_to_list(store.con, person.suppressed_values())
        store.con.execute("COMMIT")
        on_step("rewriting the intake log")
        recover_abandoned(directory)  # a crashed server's open segment: closed, then rewritten
        done.segments = rewrite_segments(directory, drop)
        on_step("rewriting the store")
        _copy_store(store.con, fresh)
    _replace_store(fresh, settings.db)
    done.files.append(settings.db)
    if current_snapshot_path(settings.db) is not None:
        on_step("rebuilding")
        _rebuild(settings, done)
    return done


def record_names(person: Person, region: str) -> Callable[[bytes], bool]:
    """Whether an intake log record names the person (any visitor id, email, phone, CRM id)."""
    salt = "erase"
    hashes = frozenset(digest(salt, value) for _kind, value in person.suppressed_values())
    listed = Suppressed(salt, hashes, region)
    crm = (
        re.compile("|".join(re.escape(i) for i in sorted(person.crm_ids)))
        if person.crm_ids
        else None
    )

    def names(payload: bytes) -> bool:
        text = payload.decode("utf-8", "replace")
        return listed.matches({"payload": text}) or bool(crm and crm.search(text))

    return names


def _copy_store(con: duckdb.DuckDBPyConnection, fresh: Path) -> None:
    """Every table of the store copied into a new file, which holds none of the freed bytes."""
    for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
        leftover.unlink(missing_ok=True)
    row = con.execute("SELECT current_database()").fetchone()
    catalog = str(row[0]) if row else "main"
    con.execute(f"ATTACH '{fresh}' AS erased_copy")
    try:
        con.execute(f'COPY FROM DATABASE "{catalog}" TO erased_copy')
        con.execute("CHECKPOINT erased_copy")
    finally:
        con.execute("DETACH erased_copy")


def _replace_store(fresh: Path, db: Path) -> None:
    """The copy becomes the store, atomically; the old file's log goes with it."""
    with open(fresh, "rb") as copy:
        os.fsync(copy.fileno())
    os.replace(fresh, db)
    for leftover in (db.with_name(db.name + ".wal"), fresh.with_name(fresh.name + ".wal")):
        leftover.unlink(missing_ok=True)
    fsync_dir(db.parent)


def _rebuild(settings: Settings, done: Erasure) -> None:
    """One new build of what is left, then every other snapshot deleted (each held the person)."""
    from touchpoint.build.build import build

    try:
        done.build_id = build(settings).build_id
    except TouchpointError as exc:
        done.build_error = str(exc)
    current = current_snapshot_path(settings.db)
    for old in sorted(snapshot_dir(settings.db).glob("build-*.duckdb")):
        if old != current or done.build_error:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
            old.with_name(old.name + ".wal").unlink(missing_ok=True)
            done.snapshots_removed.append(old)
    if current is not None and not done.build_error:
        done.files.append(current)
