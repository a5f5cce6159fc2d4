"""Every table of every context, gathered for migrations and schema creation."""

# ruff: noqa: F401 - importing a models module registers its tables on the shared metadata
from sqlmodel import SQLModel

import licensing.models
import registry.log.models
import registry.models
import registry.monitoring.models
import registry.notifications.models

metadata = SQLModel.metadata
