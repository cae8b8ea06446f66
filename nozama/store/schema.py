"""The one schema of Nozama's durable state, for SQLite and PostgreSQL alike.

Each table keeps the columns that are looked up, filtered or ordered on as real
columns (with indexes), and the rest of the resource as a JSON document in
`doc`, so that the full AWS shape round-trips without a column per field.
Every resource row carries its region and account: regions are isolated.

Changing a table here needs a migration in migrations/versions/; a unit test
checks that the migrations produce exactly this schema.
"""

from __future__ import annotations

from sqlalchemy import (JSON, BigInteger, Boolean, Column, DateTime, Index, Integer, MetaData,
                        String, Table, Text, UniqueConstraint)

metadata = MetaData()

ARN = String(1600)


def _scoped(name: str, *columns, **kwargs) -> Table:
    """A table whose rows belong to one region of one account."""
    return Table(
        name, metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
               autoincrement=True),
        Column("region", String(32), nullable=False),
        Column("account", String(12), nullable=False),
        *columns, **kwargs)


clusters = _scoped(
    "clusters",
    Column("name", String(255), nullable=False),
    Column("arn", ARN, nullable=False, unique=True),
    Column("status", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("doc", JSON, nullable=False),
    UniqueConstraint("region", "account", "name", name="uq_clusters_name"),
)

task_definitions = _scoped(
    "task_definitions",
    Column("family", String(255), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("arn", ARN, nullable=False, unique=True),
    Column("status", String(32), nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("doc", JSON, nullable=False),
    UniqueConstraint("region", "account", "family", "revision", name="uq_task_definitions_rev"),
    Index("ix_task_definitions_status", "region", "account", "status", "family", "revision"),
)

container_instances = _scoped(
    "container_instances",
    Column("cluster_arn", ARN, nullable=False),
    Column("arn", ARN, nullable=False, unique=True),
    Column("ec2_instance_id", String(255)),
    Column("status", String(32), nullable=False),
    Column("agent_connected", Boolean, nullable=False),
    Column("running_tasks_count", Integer, nullable=False, default=0),
    Column("pending_tasks_count", Integer, nullable=False, default=0),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False, default=1),
    Column("doc", JSON, nullable=False),
    Index("ix_container_instances_cluster", "cluster_arn", "arn"),
    Index("ix_container_instances_ec2", "cluster_arn", "ec2_instance_id"),
)

# Custom and standard attributes of container instances (PutAttributes targets).
attributes = Table(
    "attributes", metadata,
    Column("cluster_arn", ARN, primary_key=True),
    Column("target_id", ARN, primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("target_type", String(32), nullable=False),
    Column("value", String(128)),
    Index("ix_attributes_name", "cluster_arn", "name", "value"),
)

tags = Table(
    "tags", metadata,
    Column("resource_arn", ARN, primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", Text, nullable=False),
)
