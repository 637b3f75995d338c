"""Staff get state IDs the same way as students, in their own namespace; the SSN is never one."""

from __future__ import annotations

import httpx

from services.identity.state_ids import is_valid_state_id
from tests.helpers import bearer, client_token

TEACHER = {"district_id": "1001", "local_staff_id": "E-55", "first_name": "Marguerite", "last_name": "Duval",
           "birth_date": "1984-06-02", "sex": "F", "ssn": "321-54-9876"}


async def test_staff_ids_are_their_own_namespace(client: httpx.AsyncClient, make_client_app) -> None:
    created = await make_client_app("SIS 1001", "district_sis", district_ids=["1001"])
    sis = bearer(await client_token(client, created.client.client_id, created.secret))
    first = (await client.post("/identity/v1/staff/resolve", headers=sis, json=TEACHER)).json()
    assert first["decision"] == "assigned"
    staff_id = first["staff_state_id"]
    assert is_valid_state_id(staff_id, "staff") and staff_id.startswith("S") and "9876" not in staff_id
    again = (await client.post("/identity/v1/staff/resolve", headers=sis, json={**TEACHER, "local_staff_id": "E-56",
                                                                                 "first_name": "MARGUERITE"})).json()
    assert again["decision"] == "matched" and again["staff_state_id"] == staff_id
    # The same facts submitted as a student are a different person in a different namespace.
    as_student = (await client.post("/identity/v1/students/resolve", headers=sis, json={
        "district_id": "1001", "local_student_id": "E-55", "first_name": "Marguerite", "last_name": "Duval",
        "birth_date": "1984-06-02", "sex": "F"})).json()
    assert as_student["decision"] == "assigned" and is_valid_state_id(as_student["state_student_id"], "student")
    assert "9876" not in str(first) + str(again)
