"""Alembic environment: migrations run on the connection Store.migrate hands over.

All of them in the one transaction Store.migrate opened: alembic would otherwise
commit SQLite migrations one by one (it takes SQLite's DDL for non-transactional),
ending the lock that keeps two processes starting at once from both migrating.
"""

from alembic import context

from nozama.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                  transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
