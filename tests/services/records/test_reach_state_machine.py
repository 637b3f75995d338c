"""Authorization under random histories (issue 8): a Hypothesis state machine creates students,
enrols them, moves them between schools and districts, puts them in and out of a class section
and a counselor's caseload, and after every step asks the real server, as each principal, for
every student. A small model of who may see whom (written from the row-scope rules, not from the
policy library) must agree with every answer: 200 where the model says reach, 404 elsewhere.

Principals: the SIS and the superintendent of district 1001 (district scope), the SIS of 1002,
the principals of schools 1001-01 and 1002-01 (school scope), a teacher (current class section)
and a counselor (current caseload). "Current" is today within the relationship's dates: a
transfer ends the old enrollment yesterday and starts the new one today.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
)

from tests.serving import Served, served

TODAY = date.today()
YEAR_START = TODAY - timedelta(days=400)
SCHOOLS = {"1001-01": "1001", "1001-02": "1001", "1002-01": "1002"}
TEACHER, COUNSELOR = "S100000011", "S100000022"
SECTION = "/records/v1/class-sections/1001/MATH-7"
# Distinct people (the matcher would rightly send "Rowan12"/"Rowan21" look-alikes to review).
FIRST = ["Amara", "Bodhi", "Cyrus", "Delphine", "Ezra", "Freya", "Gideon", "Hazel", "Ignatius", "Juniper",
         "Kasimir", "Lucinda", "Magnus", "Nadia", "Oberon", "Priya", "Quentin", "Rosalind", "Silas", "Thea"]
LAST = ["Abernathy", "Blackwood", "Castellanos", "Dimitrov", "Eriksen", "Fairweather", "Gonzaga", "Haverford",
        "Ishikawa", "Jablonski", "Kowalczyk", "Lindqvist", "Montgomery", "Nakamura", "Oyelaran", "Prescott",
        "Quintero", "Rasmussen", "Szymanski", "Thornbury"]
EXAMPLES = int(os.environ.get("SLDS_STATE_MACHINE_EXAMPLES", "10"))


class World:
    """The server and one token per principal, shared by every run of the machine."""

    def __init__(self, server: Served) -> None:
        self.server = server
        server.add_user("steward", "--role", "state_data_admin", "--state", "ST")
        server.add_user("super.1001", "--role", "superintendent", "--district", "1001")
        server.add_user("principal.1001-01", "--role", "principal", "--district", "1001", "--school", "1001-01")
        server.add_user("principal.1002-01", "--role", "principal", "--district", "1002", "--school", "1002-01")
        server.add_user("teacher", "--role", "teacher", "--district", "1001", "--school", "1001-01",
                        "--staff-id", TEACHER)
        server.add_user("counselor", "--role", "counselor", "--district", "1001", "--school", "1001-01",
                        "--staff-id", COUNSELOR)
        server.add_client("SIS 1001", "--role", "district_sis", "--district", "1001")
        server.add_client("SIS 1002", "--role", "district_sis", "--district", "1002")
        self.http = httpx.Client(base_url=server.base, timeout=30)
        self.headers = {name: {"Authorization": f"Bearer {token}"} for name, token in {
            "steward": server.user_token("steward"), "super.1001": server.user_token("super.1001"),
            "principal.1001-01": server.user_token("principal.1001-01"),
            "principal.1002-01": server.user_token("principal.1002-01"),
            "teacher": server.user_token("teacher"), "counselor": server.user_token("counselor"),
            "SIS 1001": server.client_token("SIS 1001"), "SIS 1002": server.client_token("SIS 1002")}.items()}
        self.created = 0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    with served(tmp_path_factory.mktemp("reach"), "reach") as server:
        yield World(server)


class ReachMachine(RuleBasedStateMachine):
    world: World
    students = Bundle("students")

    def __init__(self) -> None:
        super().__init__()
        # student -> {(school, entry date): exit date or None}: the enrollment elements as submitted
        self.entries: dict[str, dict[tuple[str, str], str | None]] = {}
        self.roster: set[str] = set()  # the class section's students (as last put)
        self.section_current = True
        self.caseload: set[str] = set()
        self.mine: set[str] = set()  # students of this run (the server keeps earlier runs' students)
        self.day = 0

    # --- steps ---------------------------------------------------------------------------------

    @initialize(target=students, schools=st.lists(st.sampled_from(sorted(SCHOOLS)), min_size=2, max_size=3))
    def start(self, schools: list[str]) -> MultipleResults[str]:
        self.put_section()
        return multiple(*(self.enrol_new(school) for school in schools))

    @rule(target=students, school=st.sampled_from(sorted(SCHOOLS)))
    def new_student(self, school: str) -> str:
        return self.enrol_new(school)

    def enrol_new(self, school: str) -> str:
        w = self.world
        w.created += 1
        n = w.created
        district = SCHOOLS[school]
        resolved = w.http.post("/identity/v1/students/resolve", headers=w.headers[f"SIS {district}"], json={
            "district_id": district, "local_student_id": f"R-{n}", "first_name": FIRST[n % 20],
            "last_name": LAST[(n // 20) % 20], "birth_date": (date(2006, 1, 1) + timedelta(days=n * 97 % 4000)).isoformat(),
            "guardian_names": [f"{FIRST[(n + 7) % 20]} {LAST[(n // 20) % 20]}"]})
        assert resolved.status_code == 200 and resolved.json()["decision"] == "assigned", resolved.text
        sid = resolved.json()["state_student_id"]
        entry = (YEAR_START + timedelta(days=self.next_day())).isoformat()
        self.write(sid, [self.enrollment(school, entry)], w.headers[f"SIS {district}"], created=True)
        self.entries[sid] = {(school, entry): None}
        self.mine.add(sid)
        return sid

    @rule(sid=students, school=st.sampled_from(sorted(SCHOOLS)))
    def transfer(self, sid: str, school: str) -> None:
        """The state steward ends the open enrollments (yesterday, or today for one that began
        today) and enrols the student in `school` today."""
        today = TODAY.isoformat()
        closing = [e for e in self.close_open(sid) if (e["school_id"], e["entry_date"]) != (school, today)]
        self.entries[sid][(school, today)] = None  # back to a school entered today: that element reopens
        self.write(sid, [*closing, self.enrollment(school, today)], self.world.headers["steward"])

    @rule(sid=students)
    def leave_the_state(self, sid: str) -> None:
        closing = self.close_open(sid)
        if closing:
            self.write(sid, closing, self.world.headers["steward"])

    def close_open(self, sid: str) -> list[dict[str, str]]:
        closing = []
        for (school, entry), exit_date in self.entries[sid].items():
            if exit_date is None:
                end = max(entry, (TODAY - timedelta(days=1)).isoformat())
                self.entries[sid][(school, entry)] = end
                closing.append(self.enrollment(school, entry, exit_date=end))
        return closing

    def schools_today(self, sid: str) -> set[str]:
        today = TODAY.isoformat()
        return {school for (school, entry), exit_date in self.entries[sid].items()
                if entry <= today and (exit_date is None or exit_date >= today)}

    @rule(sid=students, add=st.booleans(), current=st.booleans())
    def change_section(self, sid: str, add: bool, current: bool) -> None:
        """District 1001 re-puts the section: adds or drops a student (only students ever enrolled
        in 1001 may be named), and dates it to run on, or to have ended yesterday."""
        if add and self.ever_in_1001(sid):
            self.roster.add(sid)
        elif not add:
            self.roster.discard(sid)
        self.section_current = current
        self.put_section()

    @rule(sid=students, add=st.booleans())
    def change_caseload(self, sid: str, add: bool) -> None:
        if not self.ever_in_1001(sid):
            return
        response = self.world.http.post("/records/v1/caseloads", headers=self.world.headers["SIS 1001"], json={
            "district_id": "1001", "staff_id": COUNSELOR, "state_student_id": sid, "kind": "counselor",
            "begin_date": YEAR_START.isoformat(),
            "end_date": None if add else (TODAY - timedelta(days=1)).isoformat()})
        assert response.status_code == 201, response.text
        self.caseload = (self.caseload | {sid}) if add else (self.caseload - {sid})

    # --- the model, checked against the server after every step --------------------------------

    def reaches(self, principal: str, sid: str) -> bool:
        schools = self.schools_today(sid)
        districts = {SCHOOLS[s] for s in schools}
        match principal:
            case "SIS 1001" | "super.1001":
                return "1001" in districts
            case "SIS 1002":
                return "1002" in districts
            case "principal.1001-01" | "principal.1002-01":
                return principal.removeprefix("principal.") in schools
            case "teacher":
                return self.section_current and sid in self.roster
            case "counselor":
                return sid in self.caseload
        raise AssertionError(principal)

    @invariant()
    def every_answer_agrees_with_the_model(self) -> None:
        w = self.world
        for sid in sorted(self.mine):
            for principal in ("SIS 1001", "super.1001", "SIS 1002", "principal.1001-01", "principal.1002-01",
                              "teacher", "counselor"):
                status = w.http.get(f"/records/v1/students/{sid}", headers=w.headers[principal]).status_code
                expected = 200 if self.reaches(principal, sid) else 404
                assert status == expected, (principal, sid, sorted(self.schools_today(sid)), status)

    # --- helpers -------------------------------------------------------------------------------

    def next_day(self) -> int:
        self.day += 1
        return self.day

    def ever_in_1001(self, sid: str) -> bool:
        return any(SCHOOLS[s] == "1001" for s, _ in self.entries[sid])

    @staticmethod
    def enrollment(school: str, entry: str, **extra: str) -> dict[str, str]:
        return {"school_year": "2025-2026", "district_id": SCHOOLS[school], "school_id": school, "grade_level": "07",
                "entry_date": entry, "entry_type": "first_entry_in_state", **extra}

    def write(self, sid: str, enrollment: list[dict[str, str]], headers: dict[str, str], created: bool = False) -> None:
        response = self.world.http.post("/records/v1/students", headers=headers, json={
            "state_student_id": sid, "enrollment": enrollment})
        assert response.status_code == (201 if created else 200), response.text

    def put_section(self) -> None:
        end = TODAY + timedelta(days=90) if self.section_current else TODAY - timedelta(days=1)
        response = self.world.http.put(SECTION, headers=self.world.headers["SIS 1001"], json={
            "school_id": "1001-01", "school_year": "2025-2026", "begin_date": YEAR_START.isoformat(),
            "end_date": end.isoformat(), "teachers": [{"staff_id": TEACHER, "begin_date": YEAR_START.isoformat()}],
            "students": [{"state_student_id": s, "begin_date": YEAR_START.isoformat()} for s in sorted(self.roster)]})
        assert response.status_code == 200, response.text


def test_reach_follows_every_history(world: World, tmp_path: Path) -> None:
    ReachMachine.world = world
    test = ReachMachine.TestCase
    test.settings = settings(max_examples=EXAMPLES, stateful_step_count=12, deadline=None, derandomize=True,
                             database=None, suppress_health_check=[HealthCheck.too_slow])
    test().runTest()
