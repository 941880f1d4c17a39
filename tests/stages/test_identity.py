"""Identity stitching (DESIGN §2): which visitor ids and CRM records become one person."""

from __future__ import annotations

import ibis
from hypothesis import given
from hypothesis import strategies as st

from touchpoint.stages.identity import (
    MAX_ROUNDS,
    changed_labels,
    crm_person,
    identity_edges,
    initial_labels,
    people,
    propagate,
)


def table(columns: tuple[str, ...], rows: list[tuple]) -> ibis.Table:
    data = {name: [row[i] for row in rows] for i, name in enumerate(columns)}
    return ibis.memtable(data, schema=ibis.schema({name: "string" for name in columns}))


def events(*rows: tuple) -> ibis.Table:
    return table(("visitor_id", "email"), list(rows))


def calls(*rows: tuple) -> ibis.Table:
    return table(("visitor_id", "who_id", "caller_number"), list(rows))


def leads(*rows: tuple) -> ibis.Table:
    return table(("id", "email", "phone", "converted_contact_id"), list(rows))


def contacts(*rows: tuple) -> ibis.Table:
    return table(("id", "email", "phone"), list(rows))


def stitch(edges: ibis.Table) -> tuple[dict[str, str], int]:
    """Run the rounds as the pipeline does; (node id → person id, rounds taken)."""
    edges = ibis.memtable(edges.to_pyarrow())
    labels = ibis.memtable(initial_labels(edges).to_pyarrow())
    rounds, settled = 0, False
    while not settled and rounds < MAX_ROUNDS:
        relabelled = ibis.memtable(propagate(labels, edges).to_pyarrow())
        settled = changed_labels(labels, relabelled).to_pyarrow().as_py() == 0
        labels, rounds = relabelled, rounds + 1
    rows = people(labels).to_pyarrow().to_pylist()
    return {row["node_id"]: row["person_id"] for row in rows}, rounds


def groups(people_of: dict[str, str]) -> set[frozenset[str]]:
    by_person: dict[str, set[str]] = {}
    for node, person in people_of.items():
        by_person.setdefault(person, set()).add(node)
    return {frozenset(nodes) for nodes in by_person.values()}


NO_CALLS = calls()
NO_LEADS = leads()
NO_CONTACTS = contacts()


def test_a_chain_of_email_whoid_and_conversion_is_one_person_named_by_its_smallest_visitor():
    edges = identity_edges(
        events(("v2", "b@x.org"), ("v9", "a@x.org"), ("v5", None)),
        calls(("v3", "003000000000001AAA", None)),
        leads(("00Q000000000001AAA", "a@x.org", None, "003000000000001AAA")),
        contacts(("003000000000001AAA", "b@x.org", None)),
        max_visitors_per_phone=3,
    )
    people_of, rounds = stitch(edges)
    assert set(people_of.values()) == {"v2"}
    assert set(people_of) == {"v2", "v3", "v9", "00Q000000000001AAA", "003000000000001AAA"}
    assert rounds > 2  # the label crossed several hops


def test_a_phone_joins_only_when_one_person_has_it_and_few_visitors_call_from_it():
    edges = identity_edges(
        events(),
        calls(
            ("v1", None, "+14155550001"),  # lead A's number
            ("v2", None, "+14155550002"),  # on leads B and C: joins no one
            ("v3", None, "+14155550003"),  # lead D and the contact it became: one person
            ("v4", None, "+14155550004"),  # lead E's number, but called from by 4 visitors
            ("v5", None, "+14155550004"),
            ("v6", None, "+14155550004"),
            ("v7", None, "+14155550004"),
        ),
        leads(
            ("00Q00000000000AAAA", None, "+14155550001", None),
            ("00Q00000000000BAAA", None, "+14155550002", None),
            ("00Q00000000000CAAA", None, "+14155550002", None),
            ("00Q00000000000DAAA", None, "+14155550003", "00300000000000DAAA"),
            ("00Q00000000000EAAA", None, "+14155550004", None),
        ),
        contacts(("00300000000000DAAA", None, "+14155550003")),
        max_visitors_per_phone=3,
    )
    found = groups(stitch(edges)[0])
    assert frozenset({"v1", "00Q00000000000AAAA"}) in found
    assert frozenset({"v3", "00Q00000000000DAAA", "00300000000000DAAA"}) in found
    joined = {node for group in found for node in group}
    assert not joined & {"v2", "v4", "v5", "v6", "v7", "00Q00000000000BAAA"}


def test_the_visitor_limit_is_a_setting():
    edges = identity_edges(
        events(),
        calls(("v1", None, "+14155550004"), ("v2", None, "+14155550004")),
        leads(("00Q00000000000EAAA", None, "+14155550004", None)),
        NO_CONTACTS,
        max_visitors_per_phone=1,
    )
    assert edges.count().to_pyarrow().as_py() == 0


def test_crm_records_nobody_joined_are_people_of_their_own():
    records = table(("id",), [("00Q000000000001AAA",), ("00Q000000000002AAA",)])
    known = ibis.memtable(
        {"node_kind": ["crm"], "node_id": ["00Q000000000001AAA"], "person_id": ["v1"]}
    )
    rows = crm_person(records, "id", known).to_pyarrow().to_pylist()
    assert sorted((r["id"], r["person_id"]) for r in rows) == [
        ("00Q000000000001AAA", "v1"),
        ("00Q000000000002AAA", "sf:00Q000000000002AAA"),
    ]


@given(
    st.lists(
        st.tuples(st.sampled_from("abcdefgh"), st.sampled_from(["p@x", "q@x", "r@x", "s@x"])),
        min_size=1,
        max_size=12,
    )
)
def test_people_are_the_connected_components_whatever_the_order(pairs):
    """Visitors sharing an email, directly or through others, are one person — and only they."""
    edges = identity_edges(events(*pairs), NO_CALLS, NO_LEADS, NO_CONTACTS, 3)
    people_of = stitch(edges)[0]
    found = groups(people_of)
    # The same components by union-find in plain Python.
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for visitor, email in pairs:
        parent[find(visitor)] = find("@" + email)
    expected: dict[str, set[str]] = {}
    for visitor, _ in pairs:
        expected.setdefault(find(visitor), set()).add(visitor)
    assert found == {frozenset(v) for v in expected.values()}
    for group in found:  # named by its smallest visitor id
        assert {people_of[node] for node in group} == {min(group)}
