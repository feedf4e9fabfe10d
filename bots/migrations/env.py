"""Alembic environment: the runtime passes an open connection (bots.runtime.store.migrate)."""

from alembic import context

import bots.models_all  # noqa: F401 - registers every bot's tables on Base.metadata
from bots.runtime.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
