"""Imports every service's models so the shared metadata (and Alembic) sees all tables."""

from services.disclosure import breach_models as disclosure_breach_models  # noqa: F401
from services.disclosure import models as disclosure_models  # noqa: F401
from services.disclosure import public_records_models as disclosure_public_records_models  # noqa: F401
from services.identity import clearance_models as identity_clearance_models  # noqa: F401
from services.identity import models as identity_models  # noqa: F401
from services.records import access_request_models as records_access_request_models  # noqa: F401
from services.records import models as records_models  # noqa: F401
from services.records import organisation_models as records_organisation_models  # noqa: F401
from services.records import request_clock_models as records_request_clock_models  # noqa: F401
from services.records import rights_models as records_rights_models  # noqa: F401
from services.records import transfer_models as records_transfer_models  # noqa: F401
from services.reporting import extract_models as reporting_extract_models  # noqa: F401
from services.reporting import facts_model as reporting_facts_model  # noqa: F401
from services.reporting import models as reporting_models  # noqa: F401
