"""Who a person is in the store: the identifiers `touchpoint erase` removes (DESIGN §16).

From what the user names (visitor ids, emails, phones) the store's own links
are followed until nothing new turns up, the way identity stitching joins
people (DESIGN §2):

- an email → the visitor ids whose form or `identify` events carry it, and the
  leads and contacts with that email;
- a lead or contact → its email and phone, the lead's converted contact (and
  back), and the visitor ids of calls whose `WhoId` names it;
- a visitor id → the emails its events carry, and the caller numbers of its
  calls;
- a phone → the leads and contacts with that phone and the visitor ids of
  calls from it, only when the number is not shared: on at most one other CRM
  record's person and called from by at most `[identity] max_visitors_per_phone`
  visitor ids (an office switchboard joins no one, as in stitching). A number
  the person's records lead to is erased only when no one else's record
  holds it; a number the user names is always erased.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb

from touchpoint.sources.phones import to_e164

MAX_ROUNDS = 20


@dataclass
class Person:
    """Every identifier of one person found in the store."""

    visitors: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)  # lower-cased, trimmed
    phones: set[str] = field(default_factory=set)  # E.164
    crm_ids: set[str] = field(default_factory=set)  # leads and contacts
    phone_forms: set[str] = field(default_factory=set)  # the phones as the store holds them
    call_ids: set[str] = field(default_factory=set)  # the person's calls
    click_ids: set[str] = field(default_factory=set)  # ad clicks of the person's visits

    def suppressed_values(self) -> list[tuple[str, str]]:
        """The `(kind, normalised value)` pairs the suppression list takes."""
        return [
            *(("visitor", v) for v in sorted(self.visitors)),
            *(("email", e) for e in sorted(self.emails)),
            *(("phone", p) for p in sorted(self.phones)),
        ]


class PersonFinder:
    """Follows the store's links from the identifiers the user gave."""

    def __init__(self, con: duckdb.DuckDBPyConnection, region: str, max_visitors_per_phone: int):
        self.con = con
        self.region = region
        self.max_visitors = max_visitors_per_phone
        self.written = self._written_numbers()

    def _values(self, sql: str, **lists: Iterable[str]) -> set[str]:
        params = {name: sorted(values) for name, values in lists.items()}
        return {str(row[0]) for row in self.con.execute(sql, params).fetchall() if row[0]}

    def _written_numbers(self) -> dict[str, str]:
        """Every number as written in the store → its E.164 form."""
        parts = [
            "SELECT caller_number AS n FROM raw_calls",
            "SELECT caller_number_raw FROM raw_calls",
            "SELECT phone FROM raw_leads",
            "SELECT phone FROM raw_contacts",
        ]
        numbers = self._values(f"SELECT DISTINCT n FROM ({' UNION ALL '.join(parts)})")
        written = {n: e164 for n in numbers if (e164 := to_e164(n, self.region))}
        if self._exists("phone_numbers"):
            for raw, e164 in self.con.execute(
                "SELECT raw, e164 FROM phone_numbers WHERE e164 IS NOT NULL"
            ).fetchall():
                written[str(raw)] = str(e164)
        return written

    def _exists(self, table: str) -> bool:
        row = self.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND table_name = ?",
            [table],
        ).fetchone()
        return bool(row and row[0])

    def forms(self, phones: set[str]) -> set[str]:
        """The phones in E.164 and every way the store writes them."""
        return phones | {raw for raw, e164 in self.written.items() if e164 in phones}

    def find(self, visitors: set[str], emails: set[str], phones: set[str]) -> Person:
        """The person the given identifiers name, with everything linked to them."""
        person = Person(set(visitors), {e.strip().lower() for e in emails}, set(phones))
        joining = {p for p in phones if self._joins(p, person)}
        for _round in range(MAX_ROUNDS):
            before = (len(person.visitors), len(person.emails), len(person.crm_ids), len(joining))
            self._round(person, joining)
            after = (len(person.visitors), len(person.emails), len(person.crm_ids), len(joining))
            if after == before:
                break
        person.phone_forms = self.forms(person.phones)
        self._calls_and_clicks(person)
        return person

    def _round(self, person: Person, joining: set[str]) -> None:
        e, c, v = person.emails, person.crm_ids, person.visitors
        f = self.forms(joining)
        person.visitors |= self._values(
            "SELECT DISTINCT visitor_id FROM raw_events WHERE lower(trim(email)) IN "
            "(SELECT unnest($e::VARCHAR[]))",
            e=e,
        )
        person.crm_ids |= self._values(
            "SELECT id FROM raw_leads WHERE lower(trim(email)) IN (SELECT unnest($e::VARCHAR[])) "
            "OR phone IN (SELECT unnest($f::VARCHAR[])) OR converted_contact_id IN (SELECT unnest($c::VARCHAR[])) "
            "UNION SELECT converted_contact_id FROM raw_leads WHERE id IN (SELECT unnest($c::VARCHAR[])) "
            "UNION SELECT id FROM raw_contacts WHERE lower(trim(email)) IN (SELECT unnest($e::VARCHAR[])) "
            "OR phone IN (SELECT unnest($f::VARCHAR[]))",
            e=e,
            f=f,
            c=c,
        )
        c = person.crm_ids
        person.visitors |= self._values(
            "SELECT DISTINCT visitor_id FROM raw_calls WHERE who_id IN (SELECT unnest($c::VARCHAR[])) "
            "OR caller_number IN (SELECT unnest($f::VARCHAR[])) OR caller_number_raw IN (SELECT unnest($f::VARCHAR[]))",
            c=c,
            f=f,
        )
        v = person.visitors
        person.emails |= {
            x.strip().lower()
            for x in self._values(
                "SELECT email FROM raw_leads WHERE id IN (SELECT unnest($c::VARCHAR[])) "
                "UNION SELECT email FROM raw_contacts WHERE id IN (SELECT unnest($c::VARCHAR[])) "
                "UNION SELECT email FROM raw_events WHERE visitor_id IN (SELECT unnest($v::VARCHAR[]))",
                c=c,
                v=v,
            )
        }
        linked = self._values(
            "SELECT phone FROM raw_leads WHERE id IN (SELECT unnest($c::VARCHAR[])) "
            "UNION SELECT phone FROM raw_contacts WHERE id IN (SELECT unnest($c::VARCHAR[])) "
            "UNION SELECT caller_number FROM raw_calls WHERE visitor_id IN (SELECT unnest($v::VARCHAR[])) "
            "OR who_id IN (SELECT unnest($c::VARCHAR[]))",
            c=c,
            v=v,
        )
        for number in linked:
            e164 = self.written.get(number) or to_e164(number, self.region)
            if e164 and e164 not in person.phones and self._only_theirs(e164, person):
                person.phones.add(e164)
                joining.add(e164)

    def _holders(self, phone: str, person: Person) -> tuple[set[str], set[str]]:
        """Other people's CRM records and visitor ids that hold a number."""
        f = self.forms({phone})
        records = self._values(
            "SELECT coalesce(converted_contact_id, id) FROM raw_leads WHERE phone IN "
            "(SELECT unnest($f::VARCHAR[])) AND id NOT IN (SELECT unnest($c::VARCHAR[])) "
            "UNION SELECT id FROM raw_contacts WHERE phone IN (SELECT unnest($f::VARCHAR[])) "
            "AND id NOT IN (SELECT unnest($c::VARCHAR[]))",
            f=f,
            c=person.crm_ids,
        )
        visitors = self._values(
            "SELECT DISTINCT visitor_id FROM raw_calls WHERE (caller_number IN "
            "(SELECT unnest($f::VARCHAR[])) OR caller_number_raw IN (SELECT unnest($f::VARCHAR[]))) "
            "AND visitor_id NOT IN (SELECT unnest($v::VARCHAR[]))",
            f=f,
            v=person.visitors,
        )
        return records - person.crm_ids, visitors

    def _joins(self, phone: str, person: Person) -> bool:
        """A named number leads to its people unless it is shared (a switchboard)."""
        records, visitors = self._holders(phone, person)
        return len(records) <= 1 and len(visitors | person.visitors) <= self.max_visitors

    def _only_theirs(self, phone: str, person: Person) -> bool:
        records, visitors = self._holders(phone, person)
        return not records and not visitors

    def _calls_and_clicks(self, person: Person) -> None:
        person.call_ids = self._values(
            "SELECT call_id FROM raw_calls WHERE visitor_id IN (SELECT unnest($v::VARCHAR[])) "
            "OR who_id IN (SELECT unnest($c::VARCHAR[])) OR caller_number IN (SELECT unnest($f::VARCHAR[])) "
            "OR caller_number_raw IN (SELECT unnest($f::VARCHAR[]))",
            v=person.visitors,
            c=person.crm_ids,
            f=person.phone_forms,
        )
        person.click_ids = self._values(
            "SELECT click_id FROM raw_events WHERE visitor_id IN (SELECT unnest($v::VARCHAR[])) "
            "UNION SELECT vendor_click_id FROM raw_calls WHERE call_id IN (SELECT unnest($k::VARCHAR[]))",
            v=person.visitors,
            k=person.call_ids,
        )
