"""Moving a test's store to a given schema revision, to write data as older code did."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from nozama.store import Store
from nozama.store.db import MIGRATIONS


def upgrade_to(store: Store, revision: str) -> None:
    _run(store, command.upgrade, revision)


def downgrade_to(store: Store, revision: str) -> None:
    _run(store, command.downgrade, revision)


def _run(store: Store, step, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.write() as conn:
        config.attributes["connection"] = conn
        step(config, revision)
