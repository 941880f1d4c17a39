"""Identity stitching (DESIGN §2): visitor ids and CRM records → people.

A person is a visitor id until something joins it to others: the same email
on a form (or an `identify` event) and on a lead or contact; a call whose
`WhoId` names a lead or contact; a lead and the contact it converted to; a
caller number equal to the phone of exactly one lead or contact. A number on
several people's records, or called from by more than `[identity]
max_visitors_per_phone` visitor ids (an office switchboard), joins no one.

The people are the connected components of that graph, found by passing the
smallest node key along the edges until nothing changes (each round is one
pure Ibis step; the pipeline repeats it). Node keys sort visitors first, so a
person's id is its smallest visitor id, or `sf:` and the smallest Salesforce id
for someone known only to the CRM.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

VISITOR = "1"
CRM = "2"
EMAIL = "3"
CRM_PERSON_PREFIX = "sf:"
# People of calls no visitor id and no CRM record ties to anyone (`caller_person`).
PHONE_PERSON_PREFIX = "phone:"
CALL_PERSON_PREFIX = "call:"
MAX_ROUNDS = 100


def _key(prefix: str, value: ir.StringValue) -> ir.StringValue:
    return ibis.literal(prefix) + value


def phone_owners(leads: ir.Table, contacts: ir.Table) -> ir.Table:
    """Phone numbers that belong to exactly one lead or contact (a lead and its contact are one)."""
    lead_phones = leads.filter(leads.phone.notnull()).select(
        phone=leads.phone, owner=ibis.coalesce(leads.converted_contact_id, leads.id)
    )
    contact_phones = contacts.filter(contacts.phone.notnull()).select(
        phone=contacts.phone, owner=contacts.id
    )
    owners = lead_phones.union(contact_phones).distinct()
    counted = owners.group_by("phone").aggregate(
        owner_count=owners.owner.count(), owner=owners.owner.min()
    )
    return counted.filter(counted.owner_count == 1).select("phone", "owner")


def identity_edges(
    events: ir.Table,
    calls: ir.Table,
    leads: ir.Table,
    contacts: ir.Table,
    max_visitors_per_phone: int,
) -> ir.Table:
    """The graph's edges `(a, b)` between node keys, each pair once in each direction."""
    with_email = events.filter(events.email.notnull() & (events.email != ""))
    parts = [
        with_email.select(a=_key(VISITOR, with_email.visitor_id), b=_key(EMAIL, with_email.email)),
    ]
    for records in (leads, contacts):
        emailed = records.filter(records.email.notnull())
        parts.append(emailed.select(a=_key(CRM, emailed.id), b=_key(EMAIL, emailed.email)))
    converted = leads.filter(leads.converted_contact_id.notnull())
    parts.append(
        converted.select(a=_key(CRM, converted.id), b=_key(CRM, converted.converted_contact_id))
    )
    known = calls.filter(calls.visitor_id.notnull())
    named = known.filter(known.who_id.notnull())
    parts.append(named.select(a=_key(VISITOR, named.visitor_id), b=_key(CRM, named.who_id)))
    callers = (
        known.filter(known.caller_number.notnull())
        .select(phone=known.caller_number, visitor_id=known.visitor_id)
        .distinct()
    )
    per_number = callers.group_by("phone").aggregate(visitors=callers.visitor_id.count())
    usable = per_number.filter(per_number.visitors <= max_visitors_per_phone).select("phone")
    by_phone = callers.join(usable, "phone").join(phone_owners(leads, contacts), "phone")
    parts.append(by_phone.select(a=_key(VISITOR, by_phone.visitor_id), b=_key(CRM, by_phone.owner)))
    edges = parts[0]
    for part in parts[1:]:
        edges = edges.union(part, distinct=False)
    both_ways = edges.union(edges.select(a=edges.b, b=edges.a), distinct=False)
    return both_ways.filter(both_ways.a != both_ways.b).distinct()


def initial_labels(edges: ir.Table) -> ir.Table:
    """Every node of the graph, labelled with itself."""
    nodes = edges.select(node=edges.a).distinct()
    return nodes.mutate(label=nodes.node)


def propagate(labels: ir.Table, edges: ir.Table) -> ir.Table:
    """One round: each node takes the smallest label among its own and its neighbours'."""
    heard = edges.join(labels, edges.b == labels.node).select(node=edges.a, label=labels.label)
    candidates = labels.select("node", "label").union(heard, distinct=False)
    return candidates.group_by("node").aggregate(label=candidates.label.min())


def changed_labels(before: ir.Table, after: ir.Table) -> ir.IntegerScalar:
    """How many nodes a round relabelled (0: the components are found)."""
    old = before.select(node=before.node, old_label=before.label)
    joined = after.join(old, "node")
    return joined.filter(joined.label != joined.old_label).count()


def people(labels: ir.Table) -> ir.Table:
    """`node_kind` (visitor or crm), `node_id` and the `person_id` it belongs to."""
    kept = labels.filter(labels.node.startswith(VISITOR) | labels.node.startswith(CRM))
    label = kept.label
    return kept.select(
        node_kind=ibis.ifelse(kept.node.startswith(VISITOR), "visitor", "crm"),
        node_id=kept.node.substr(1),
        person_id=ibis.ifelse(
            label.startswith(VISITOR), label.substr(1), CRM_PERSON_PREFIX + label.substr(1)
        ),
    )


def visitor_person(table: ir.Table, people_table: ir.Table) -> ir.Table:
    """`table` with `person_id` from its `visitor_id` (the visitor id itself when unjoined)."""
    visitors = people_table.filter(people_table.node_kind == "visitor").select(
        joined_visitor=people_table.node_id, joined_person=people_table.person_id
    )
    joined = table.left_join(visitors, table.visitor_id == visitors.joined_visitor)
    return joined.mutate(person_id=ibis.coalesce(joined.joined_person, joined.visitor_id)).drop(
        "joined_visitor", "joined_person"
    )


def crm_person(table: ir.Table, crm_id: ir.StringValue | str, people_table: ir.Table) -> ir.Table:
    """`table` with `person_id` of the CRM record whose id is `crm_id` (`sf:<id>` when unjoined)."""
    ids = table[crm_id] if isinstance(crm_id, str) else crm_id
    table = table.mutate(_crm_key=ids)
    records = people_table.filter(people_table.node_kind == "crm").select(
        joined_record=people_table.node_id, joined_person=people_table.person_id
    )
    joined = table.left_join(records, table._crm_key == records.joined_record)
    return joined.mutate(
        person_id=ibis.coalesce(joined.joined_person, CRM_PERSON_PREFIX + joined._crm_key)
    ).drop("joined_record", "joined_person", "_crm_key")


def caller_person(
    calls: ir.Table, people_table: ir.Table, leads: ir.Table, contacts: ir.Table
) -> ir.Table:
    """Calls without a visitor id with `person_id`: the person of the call's CRM `WhoId`,
    else of the one lead or contact with the caller's number, else the caller's number
    itself (`phone:+16175550182`: one caller, one person), else the call alone
    (`call:` and its touchpoint id), so that each such touchpoint lands on a person."""
    owners = phone_owners(leads, contacts)
    owners = owners.select(owner_phone=owners.phone, phone_owner=owners.owner)
    joined = calls.left_join(owners, calls.caller_number == owners.owner_phone)
    joined = crm_person(joined, ibis.coalesce(joined.who_id, joined.phone_owner), people_table)
    person = ibis.coalesce(
        joined.person_id,
        PHONE_PERSON_PREFIX + joined.caller_number,
        CALL_PERSON_PREFIX + joined.touchpoint_id,
    )
    return joined.mutate(person_id=person).drop("owner_phone", "phone_owner")
