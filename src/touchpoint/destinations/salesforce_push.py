"""`touchpoint push salesforce`: the latest build's touchpoints and attribution -> the org.

The records (`salesforce_records`) are compared with the ledger in the store
(`salesforce_pushed`: per object and external id, the hash of what was last
written, the org's id, when and how it went): only new and changed records
are sent, upserted on the external id in sObject Collections of up to
`[salesforce.push] batch_size`, touchpoints first (attribution records look
their touchpoint up by its external id). A record the org refuses is a reject
with the org's reason; the rest of its batch is written. Records the ledger
holds whose touchpoint or attribution is gone are deleted by their Salesforce
id. The ledger is committed after every call, so a push that stops (the API
allowance nearly used, a failure) resumes where it ended, and a push with
nothing changed sends nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from touchpoint.config import Settings
from touchpoint.destinations.destination import ObjectPush, Progress, PushResult, no_progress
from touchpoint.destinations.salesforce_collections import CollectionsClient, reason
from touchpoint.destinations.salesforce_mapping import load_mapping
from touchpoint.destinations.salesforce_records import (
    SEPARATOR,
    OutRecord,
    Records,
    read_records,
)
from touchpoint.errors import TouchpointError
from touchpoint.importers import reject_rows
from touchpoint.sources.records import Reject
from touchpoint.store import Store, open_snapshot
from touchpoint.sync.salesforce_client import ApiLimitReached

LEDGER = "salesforce_pushed"
SYNC_HINT = " (check the [salesforce] field settings)"
REJECT_SOURCE = "salesforce push"
EXAMPLES = 3
FIRST_REJECTS = 5
PUSHED, REFUSED = "pushed", "rejected"
GONE_CODES = ("ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND")


@dataclass(frozen=True)
class Pushed:
    """One ledger row: what was last written for a record and what the org said."""

    record_hash: str
    salesforce_id: str | None
    status: str


def ensure_ledger(store: Store) -> None:
    store.con.execute(
        f"CREATE TABLE IF NOT EXISTS {LEDGER} (object VARCHAR NOT NULL, "
        "external_id VARCHAR NOT NULL, record_hash VARCHAR, salesforce_id VARCHAR, "
        "pushed_at TIMESTAMP, status VARCHAR, error VARCHAR, PRIMARY KEY (object, external_id))"
    )


def ledger(store: Store, sobject: str) -> dict[str, Pushed]:
    rows = store.con.execute(
        f"SELECT external_id, record_hash, salesforce_id, status FROM {LEDGER} WHERE object = ?",
        [sobject],
    ).fetchall()
    return {row[0]: Pushed(row[1], row[2], row[3]) for row in rows}


def push_salesforce(
    settings: Settings, *, dry_run: bool = False, progress: Progress = no_progress
) -> PushResult:
    """Write what changed since the last push; with `dry_run`, only say what would go."""
    started = time.perf_counter()
    push = settings.salesforce.push
    mapping = load_mapping(push.mapping)
    client = None if dry_run else CollectionsClient(settings.salesforce)  # checks the sign-in
    with open_snapshot(settings) as con:
        records = read_records(con, mapping)
    result = PushResult(destination="salesforce", dry_run=dry_run, notes=records.notes())
    with Store.open(settings) as store:
        ensure_ledger(store)
        plans = [_plan(store, records, obj.object, result) for obj in mapping.objects]
        _keep_local_rejects(store, records, result)
        stale = [(plan.done.name, external_id) for plan in plans for external_id in plan.stale]
        if stale and not dry_run:
            store.con.executemany(
                f"DELETE FROM {LEDGER} WHERE object = ? AND external_id = ?", stale
            )
        if client is None or not any(plan.send or plan.gone for plan in plans):
            result.seconds = time.perf_counter() - started
            return result  # nothing to send: not even a sign-in
        try:
            client.connect()
            result.target = client.instance_url
            externals = {obj.object: obj.external_id for obj in mapping.objects}
            parent_name = mapping.touchpoint.object
            for plan in plans:  # touchpoints first: attribution records look them up
                parent = mapping.touchpoint.object if plan.done.name != parent_name else None
                _upsert(
                    store,
                    client,
                    plan,
                    externals[plan.done.name],
                    push.batch_size,
                    result,
                    progress,
                    parent,
                )
            for plan in reversed(plans):  # attribution first: nothing is left pointing at a gap
                _delete(store, client, plan, push.batch_size, result)
        except ApiLimitReached as exc:
            result.stopped = f"{exc}; stopped, the next push resumes where this one ended"
        finally:
            client.close()
            if client.usage is not None:
                result.api_used, result.api_total = client.usage.used, client.usage.total
    result.seconds = time.perf_counter() - started
    return result


@dataclass
class _Plan:
    done: ObjectPush
    send: list[OutRecord]
    gone: list[tuple[str, str]]  # (external id, Salesforce id) to delete
    stale: list[str]  # refused once, never written, now gone from the build: forgotten


def _plan(store: Store, records: Records, sobject: str, result: PushResult) -> _Plan:
    done = ObjectPush(sobject)
    result.objects.append(done)
    current = records.records[sobject]
    before = ledger(store, sobject)
    send = [
        r
        for r in current
        if (p := before.get(r.external_id)) is None or p.record_hash != r.record_hash
    ]
    done.records = len(current)
    done.unchanged = len(current) - len(send)
    refused_here = {r.external_id for r in records.rejects if r.object == sobject}
    kept = {r.external_id for r in current} | refused_here
    gone = [
        (external_id, pushed.salesforce_id)
        for external_id, pushed in sorted(before.items())
        if external_id not in kept and pushed.salesforce_id
    ]
    stale = [e for e, pushed in before.items() if e not in kept and not pushed.salesforce_id]
    done.to_upsert, done.to_delete = len(send), len(gone)
    done.rejected = len(refused_here)
    done.examples = [{"external_id": r.external_id, **r.body} for r in send[:EXAMPLES]]
    return _Plan(done, send, gone, stale)


def _keep_local_rejects(store: Store, records: Records, result: PushResult) -> None:
    """Records whose values the org's fields cannot hold: kept as rejects, never sent."""
    rejects = [
        Reject(source=f"{REJECT_SOURCE}:{r.object}", record=r.record, reason=r.reason)
        for r in records.rejects
    ]
    for reject in rejects[:FIRST_REJECTS]:
        result.rejects.append((reject.source, reject.reason))
    if not result.dry_run and rejects:
        store.insert_new("rejects", [reject_rows(REJECT_SOURCE, rejects, _now())])


def _upsert(
    store: Store,
    client: CollectionsClient,
    plan: _Plan,
    external_id: str,
    batch_size: int,
    result: PushResult,
    progress: Progress,
    parent: str | None = None,
) -> None:
    """Send the plan's records; `parent` is the object attribution records look up."""
    done, total, sent = plan.done, len(plan.send), 0
    for batch in _batches(plan.send, batch_size):
        try:
            answers = client.upsert(done.name, external_id, [r.body for r in batch])
        except TouchpointError as exc:  # the whole call refused: a field the org lacks, ...
            said = str(exc).replace(SYNC_HINT, "")
            raise TouchpointError(
                f"{said} (check [salesforce.push] mapping against the org's fields; "
                f"{done.upserted:,} {done.name} records were written before it)"
            ) from None
        now = _now()
        rows: list[tuple[Any, ...]] = []
        rejects: list[Reject] = []
        orphans: list[tuple[str, str]] = []
        for record, answer in zip(batch, answers, strict=True):
            if answer.get("success"):
                rows.append(
                    (
                        done.name,
                        record.external_id,
                        record.record_hash,
                        answer.get("id"),
                        now,
                        PUSHED,
                        None,
                    )
                )
                done.upserted += 1
                done.created += bool(answer.get("created"))
                done.updated += not answer.get("created")
            else:
                said = reason(answer)
                # no hash: a refused record is sent again by the next push
                rows.append((done.name, record.external_id, None, None, now, REFUSED, said))
                rejects.append(
                    Reject(f"{REJECT_SOURCE}:{done.name}/{record.external_id}", _json(record), said)
                )
                done.rejected += 1
                if parent and f"in entity {parent}" in said:  # its touchpoint is gone from the org
                    orphans.append((parent, record.external_id.split(SEPARATOR)[0]))
        _commit(store, rows, rejects, result)
        if orphans:  # deleted by hand in Salesforce: the next push writes it again
            store.con.executemany(
                f"DELETE FROM {LEDGER} WHERE object = ? AND external_id = ?", orphans
            )
        sent += len(batch)
        progress(done.name, sent, total)


def _delete(
    store: Store, client: CollectionsClient, plan: _Plan, batch_size: int, result: PushResult
) -> None:
    done = plan.done
    for batch in _batches(plan.gone, batch_size):
        answers = client.delete([salesforce_id for _external, salesforce_id in batch])
        gone = []
        for (external_id, _sf_id), answer in zip(batch, answers, strict=True):
            codes = {e.get("statusCode") for e in answer.get("errors") or [] if isinstance(e, dict)}
            if answer.get("success") or codes & set(GONE_CODES):
                gone.append(external_id)
                done.deleted += 1
            else:
                result.notes.append(f"{done.name} {external_id} was not deleted: {reason(answer)}")
        if gone:
            with store.transaction():
                store.con.executemany(
                    f"DELETE FROM {LEDGER} WHERE object = ? AND external_id = ?",
                    [(done.name, external_id) for external_id in gone],
                )


def _commit(
    store: Store, rows: list[tuple[Any, ...]], rejects: list[Reject], result: PushResult
) -> None:
    """One call's ledger rows and rejects, all or nothing."""
    with store.transaction():
        store.con.executemany(
            f"INSERT INTO {LEDGER} VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (object, external_id) "
            "DO UPDATE SET record_hash = excluded.record_hash, salesforce_id = "
            f"coalesce(excluded.salesforce_id, {LEDGER}.salesforce_id), "
            "pushed_at = excluded.pushed_at, status = excluded.status, error = excluded.error",
            rows,
        )
        if rejects:
            store.insert_new("rejects", [reject_rows(REJECT_SOURCE, rejects, rows[0][4])])
    for reject in rejects[: FIRST_REJECTS - len(result.rejects)]:
        result.rejects.append((reject.source, reject.reason))


def _batches(items: list[Any], size: int) -> Any:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _json(record: OutRecord) -> str:
    return json.dumps({"object": record.object, **record.body}, sort_keys=True, default=str)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
