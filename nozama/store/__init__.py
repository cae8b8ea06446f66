"""Durable state: the database behind every control-plane decision."""

from nozama.store.db import Store

__all__ = ["Store"]
