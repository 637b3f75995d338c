"""The stored text of a log entry's payload (`shared.audit.canonical`): orjson since the records
read path made it hot, the stdlib before. Entries verify by their stored text, so the two need not
agree byte for byte; they do for the payloads the services write (strings, integers, booleans,
nulls, lists, objects, dates), and what orjson refuses still gets the stdlib's text."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.audit import canonical


def _stdlib(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text(),
                     st.dates(), st.datetimes(timezones=st.just(UTC)), st.uuids())
_PAYLOADS = st.dictionaries(st.text(), st.recursive(
    _SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(), inner, max_size=4)),
    max_leaves=20), max_size=6)


@settings(max_examples=400, deadline=None)
@given(payload=_PAYLOADS)
def test_the_same_text_as_the_stdlib_for_what_the_services_log(payload: dict[str, Any]) -> None:
    assert canonical(payload) == _stdlib(payload)


def test_a_read_entry() -> None:
    payload = {"entity": "student", "state_id": "4820175936", "role": "superintendent", "purpose": "Förderplan ✓",
               "fields": ["demographics.first_name", "enrollment.school_id"], "as_of": None}
    assert canonical(payload) == _stdlib(payload)
    assert canonical(payload).startswith('{"as_of":null,"entity":"student","fields":[')


def test_what_orjson_refuses_gets_the_stdlib_text() -> None:
    for payload in ({"counts": {1: "a", 2: "b"}}, {"big": 2**70}):
        assert canonical(payload) == _stdlib(payload)


def test_other_values_stay_parseable() -> None:
    payload = {"rate": 0.125, "tiny": 1e-7, "when": datetime(2026, 12, 3, tzinfo=UTC), "day": date(2026, 12, 3),
               "id": uuid.UUID(int=7)}
    text = canonical(payload)
    assert json.loads(text)["rate"] == 0.125 and json.loads(text)["tiny"] == 1e-7
    assert json.loads(text)["when"] == "2026-12-03 00:00:00+00:00" and json.loads(text)["day"] == "2026-12-03"
