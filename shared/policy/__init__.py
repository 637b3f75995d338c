"""Access policy of the SLDS: the data dictionary, the roles, and the decisions built on them.

Every service asks `shared.policy` (never its own rules) which students a principal may reach and
which fields of them it may receive, then projects records with `project`.
"""

from shared.policy.access import (
    RowScope,
    RowScopeKind,
    can_reach_student,
    project,
    row_scope,
    student_fields_for_role,
    visible_fields,
    visible_staff_fields,
)
from shared.policy.dictionary import CodeSet, DataDictionary, FieldSpec, load_data_dictionary
from shared.policy.principal import AccessGrant, Principal, StudentFacts
from shared.policy.roles import Role, UnknownRoleError, get_role, load_roles

__all__ = [
    "AccessGrant",
    "CodeSet",
    "DataDictionary",
    "FieldSpec",
    "Principal",
    "Role",
    "RowScope",
    "RowScopeKind",
    "StudentFacts",
    "UnknownRoleError",
    "can_reach_student",
    "get_role",
    "load_data_dictionary",
    "load_roles",
    "project",
    "row_scope",
    "student_fields_for_role",
    "visible_fields",
    "visible_staff_fields",
]
