"""Imports every model so that the metadata is complete (Alembic, tests)."""
from marketplace.billing import models as _billing  # noqa: F401
from marketplace.catalog import models as _catalog  # noqa: F401
from marketplace.contracts import models as _contracts  # noqa: F401
from marketplace.core import audit as _audit  # noqa: F401
from marketplace.core import entitlements as _entitlements  # noqa: F401
from marketplace.core.db import Base
from marketplace.funding import models as _funding  # noqa: F401
from marketplace.funding.plan import models as _funding_plan  # noqa: F401
from marketplace.mail import models as _mail  # noqa: F401
from marketplace.projects import models as _projects  # noqa: F401
from marketplace.purchasing import models as _purchasing  # noqa: F401
from search import models as _search  # noqa: F401
from tenants import models as _tenants  # noqa: F401
from tenants.territories import models as _territories  # noqa: F401

metadata = Base.metadata
