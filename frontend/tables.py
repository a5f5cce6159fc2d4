"""Every table of every context, gathered for migrations and schema creation."""

from sqlmodel import SQLModel

import licensing.models
import registry.log.models
import registry.models
import registry.notifications.models  # noqa: F401 - importing registers the tables on the shared metadata

metadata = SQLModel.metadata
