"""Imports every service's models so the shared metadata (and Alembic) sees all tables."""

from services.disclosure import models as disclosure_models  # noqa: F401
from services.identity import models as identity_models  # noqa: F401
from services.records import models as records_models  # noqa: F401
from services.records import rights_models as records_rights_models  # noqa: F401
from services.reporting import facts_model as reporting_facts_model  # noqa: F401
from services.reporting import models as reporting_models  # noqa: F401
