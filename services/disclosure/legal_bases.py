"""The lawful bases for disclosing PII without consent (34 CFR 99.31(a)) plus consent (99.30) and
the parent / eligible student (99.10). Every disclosure-log entry names one of these codes."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class LegalBasis:
    code: str
    citation: str
    label: str


LEGAL_BASES: tuple[LegalBasis, ...] = (
    LegalBasis("school_official", "34 CFR 99.31(a)(1)(i)(A)", "School official with legitimate educational interest"),
    LegalBasis("contractor_school_official", "34 CFR 99.31(a)(1)(i)(B)", "Contractor, consultant or volunteer acting as a school official"),
    LegalBasis("school_of_transfer", "34 CFR 99.31(a)(2)", "School where the student seeks or intends to enrol"),
    LegalBasis("audit_evaluation", "34 CFR 99.31(a)(3), 99.35", "Audit or evaluation of education programs by authorised representatives"),
    LegalBasis("federal_officials", "34 CFR 99.31(a)(3)", "Specified federal and state officials"),
    LegalBasis("financial_aid", "34 CFR 99.31(a)(4)", "Financial aid for which the student applied"),
    LegalBasis("juvenile_justice", "34 CFR 99.31(a)(5), 99.38", "State and local juvenile justice authorities"),
    LegalBasis("studies", "34 CFR 99.31(a)(6)", "Organisations conducting studies for or on behalf of the school"),
    LegalBasis("accreditation", "34 CFR 99.31(a)(7)", "Accrediting organisations"),
    LegalBasis("dependent_student_parent", "34 CFR 99.31(a)(8)", "Parents of a dependent student (IRS definition)"),
    LegalBasis("judicial_order", "34 CFR 99.31(a)(9)", "Judicial order or lawfully issued subpoena"),
    LegalBasis("health_safety_emergency", "34 CFR 99.31(a)(10), 99.36", "Health or safety emergency"),
    LegalBasis("directory_information", "34 CFR 99.31(a)(11), 99.37", "Directory information"),
    LegalBasis("parent_or_eligible_student", "34 CFR 99.10, 99.31(a)(12)", "The parent or the eligible student"),
    LegalBasis("written_consent", "34 CFR 99.30", "Signed and dated written consent"),
)


def legal_bases_as_dicts() -> list[dict[str, str]]:
    return [asdict(basis) for basis in LEGAL_BASES]
