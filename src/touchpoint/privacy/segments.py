"""Intake log segments without an erased person's records (DESIGN §16).

A segment is rewritten whole: its good records, minus those that name the
person, framed again into a new file beside it (`.<name>.erasing`, a name no
reader or writer of the log looks for), fsynced, then renamed over the old one,
so a crash leaves either the old segment or the new one, never half of each.

Closed (`.seg`) and loaded (`loaded/*.seg`) segments are never appended to, so
`touchpoint erase` rewrites them in place while it holds the store (no build
can load them meanwhile). An `.open` segment a running server holds is left
alone: rewriting it under the server would lose what the server appends. Its
records are dropped when a build loads it (the suppression list), and the copy
the build moves to `loaded/` is written without them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from touchpoint.collect.frames import frame, scan
from touchpoint.collect.segments import CLOSED, LOADED, OPEN, fsync_dir

TEMPORARY = ".erasing"


@dataclass
class SegmentsRewritten:
    """What erasing did to the intake log."""

    rewritten: list[Path] = field(default_factory=list)  # files written without the person
    records: int = 0  # records dropped from them
    held_open: list[Path] = field(default_factory=list)  # live servers' segments, left


def write_without(source: Path, target: Path, drop: Callable[[bytes], bool]) -> int:
    """Write `source`'s records but those `drop` names to `target`, atomically; return how
    many were dropped (nothing is written when none is)."""
    found = scan(source.read_bytes())
    kept = [payload for payload in found.payloads if not drop(payload)]
    dropped = len(found.payloads) - len(kept)
    if dropped == 0 and source == target:
        return 0
    temporary = target.with_name(f".{target.name}{TEMPORARY}")
    with open(temporary, "wb") as out:
        for payload in kept:
            out.write(frame(payload))
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, target)
    if source != target:
        source.unlink(missing_ok=True)
    fsync_dir(target.parent)
    return dropped


def segments_holding(directory: Path, drop: Callable[[bytes], bool]) -> list[tuple[Path, int]]:
    """Closed, loaded and open segments with records `drop` names, and how many each."""
    if not directory.is_dir():
        return []
    candidates = [
        *sorted(directory.glob(f"*{CLOSED}")),
        *sorted((directory / LOADED).glob(f"*{CLOSED}")),
        *sorted(directory.glob(f"*{OPEN}")),
    ]
    found = []
    for path in candidates:
        try:
            payloads = scan(path.read_bytes()).payloads
        except FileNotFoundError:
            continue
        count = sum(1 for payload in payloads if drop(payload))
        if count:
            found.append((path, count))
    return found


def rewrite_segments(directory: Path, drop: Callable[[bytes], bool]) -> SegmentsRewritten:
    """Rewrite every closed and loaded segment without the records `drop` names."""
    done = SegmentsRewritten()
    for path, _count in segments_holding(directory, drop):
        if path.suffix == OPEN:
            done.held_open.append(path)
            continue
        done.records += write_without(path, path, drop)
        done.rewritten.append(path)
    return done
