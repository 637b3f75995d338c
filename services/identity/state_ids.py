"""State IDs: random, meaningless, fixed length, with a Damm check digit.

Students: 10 digits (9 random, first never 0 so spreadsheets keep the length, then the check
digit). Staff: "S" + 8 random digits + check digit, a namespace of their own; an SSN is never a
staff ID. The Damm algorithm (python-stdnum) catches every single-digit error and every swap of
two adjacent digits, so a mistyped ID is refused on input instead of finding someone else.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Literal

from pydantic import AfterValidator
from stdnum import damm

PersonKind = Literal["student", "staff"]
STAFF_PREFIX = "S"


def new_state_id(kind: PersonKind) -> str:
    if kind == "student":
        body = str(10**8 + secrets.randbelow(9 * 10**8))  # 9 digits, the first never 0
        return body + damm.calc_check_digit(body)
    body = f"{secrets.randbelow(10**8):08d}"
    return STAFF_PREFIX + body + damm.calc_check_digit(body)


def is_valid_state_id(value: str, kind: PersonKind) -> bool:
    if len(value) != 10:
        return False
    if kind == "staff":
        return value.startswith(STAFF_PREFIX) and value[1:].isdigit() and damm.is_valid(value[1:])
    return value.isdigit() and value[0] != "0" and damm.is_valid(value)


def _student_id(value: str) -> str:
    if not is_valid_state_id(value, "student"):
        raise ValueError("not a valid state student ID (length or check digit)")
    return value


def _staff_id(value: str) -> str:
    if not is_valid_state_id(value, "staff"):
        raise ValueError("not a valid staff ID (length or check digit)")
    return value


StateStudentId = Annotated[str, AfterValidator(_student_id)]
StaffStateId = Annotated[str, AfterValidator(_staff_id)]
