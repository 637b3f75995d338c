"""Migration d0a1b2c3d4e5 recomputes the blocking keys of stored persons: after it, a submission
finds the persons a deployment already holds (with and without a birth date) through the new
keys, and a downgrade gives the old keys back."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

from services.identity.matching import PersonFacts, lookup_keys
from shared.migrate import downgrade, upgrade
from tests.helpers import run_statements
from tests.migrations.test_migrations import _scratch_url

BEFORE, AFTER = "c9c8d7e0a009", "d0a1b2c3d4e5"
PERSON = ("INSERT INTO identity_person (state_id, kind, first_name, last_name, birth_date, races, guardian_names, "
          "status, created_at, updated_at) VALUES (:sid, 'student', :first, :last, :born, '[]', :guardians, "
          ":status, '2026-01-01', '2026-01-01')")
KEY = "INSERT INTO identity_blocking_key (key, state_id) VALUES (:key, :sid)"


def _keys(url: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for key, sid in asyncio.run(run_statements(url, [("SELECT key, state_id FROM identity_blocking_key", {})])):
        found.setdefault(sid, set()).add(key)
    return found


def test_stored_persons_are_found_through_the_new_keys_and_back(tmp_path: Path) -> None:
    url = _scratch_url(tmp_path)
    upgrade(url, BEFORE)
    persons = [
        {"sid": "1000000001", "first": "William", "last": "Garcia-Lopez", "born": date(2011, 3, 4),
         "guardians": json.dumps(["Ana Garcia"]), "status": "active"},
        {"sid": "1000000002", "first": "Maria", "last": "Nguyen", "born": None, "guardians": "[]",
         "status": "active"},
        {"sid": "1000000003", "first": "Retired", "last": "Record", "born": date(2012, 5, 6), "guardians": "[]",
         "status": "merged"},
    ]
    old_keys = [  # as the earlier blocking.py stored them (and a key from another spelling)
        ("d|20110304|f:w", "1000000001"), ("d|20110403|f:w", "1000000001"), ("d|20110304|l:g", "1000000001"),
        ("n|KRXLPS|WLM|2011", "1000000001"), ("n|KRXLPS|PL|2011", "1000000001"), ("x|KRXLPS|WLM", "1000000001"),
        ("x|MR|NKYN", "1000000002"),
    ]
    asyncio.run(run_statements(url, [(PERSON, p) for p in persons] + [(KEY, {"key": k, "sid": s}) for k, s in old_keys]))

    upgrade(url, AFTER)
    keys = _keys(url)
    assert not any(k.startswith("d|") for ks in keys.values() for k in ks)
    assert "n|KRXLPS|PL|2011" in keys["1000000001"]  # other families, other spellings: kept
    # A transfer with a nickname and a dropped hyphen part meets William by date and surname...
    transfer = PersonFacts(first_name="Bill", last_name="Lopez", birth_date=date(2011, 3, 4))
    assert lookup_keys(transfer) & keys["1000000001"]
    # ...and one with the day and month swapped too.
    assert lookup_keys(PersonFacts(first_name="Bill", last_name="Lopez", birth_date=date(2011, 4, 3))) \
        & keys["1000000001"]
    # A dated submission still finds the person stored without a birth date.
    assert lookup_keys(PersonFacts(first_name="Maria", last_name="Nguyen", birth_date=date(2013, 1, 2))) \
        & keys["1000000002"]
    assert "1000000003" not in keys  # a retired ID gets no keys

    downgrade(url, BEFORE)
    keys = _keys(url)
    assert {"d|20110304|f:w", "d|20110403|f:w", "d|20110304|l:g", "d|20110304|l:l"} <= keys["1000000001"]
    assert not any(k.startswith(("dn|", "xu|")) for ks in keys.values() for k in ks)
    upgrade(url)
