"""Every table of every context, gathered for migrations and schema creation."""

from sqlmodel import SQLModel

import registry.log.models
import registry.models  # noqa: F401 - importing registers the tables on the shared metadata

metadata = SQLModel.metadata
