"""The one schema of Nozama's durable state, for SQLite and PostgreSQL alike.

Each table keeps the columns that are looked up, filtered or ordered on as real
columns (with indexes), and the rest of the resource as a JSON document in
`doc`, so that the full AWS shape round-trips without a column per field.
Every resource row carries its region and account: regions are isolated.

Changing a table here needs a migration in migrations/versions/; a unit test
checks that the migrations produce exactly this schema.
"""

from __future__ import annotations

from sqlalchemy import (JSON, BigInteger, Boolean, Column, DateTime, Float, Index, Integer,
                        LargeBinary, MetaData, String, Table, Text, UniqueConstraint, text)

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
    # ListTaskDefinitions reads the ARNs from the index alone.
    Index("ix_task_definitions_status", "region", "account", "status", "family", "revision",
          "arn"),
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
    # When the agent last polled its channel: agentConnected is derived from it.
    Column("agent_seen_at", DateTime(timezone=True)),
    # The address the host is reached at (its agent registers it): load balancers
    # reach instance targets there.
    Column("address", String(45)),
    Column("version", BigInteger, nullable=False, default=1),
    Column("doc", JSON, nullable=False),
    Index("ix_container_instances_cluster", "cluster_arn", "arn"),
    Index("ix_container_instances_ec2", "cluster_arn", "ec2_instance_id"),
    # RegisterTargets finds an instance target's container instance by its EC2 id.
    Index("ix_container_instances_ec2_id", "ec2_instance_id"),
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

# ECS account settings (PutAccountSetting[Default]): one value per principal and name.
# The root user's row is the account's default for users and roles that set none.
account_settings = _scoped(
    "account_settings",
    Column("principal_arn", String(2048), nullable=False),
    Column("name", String(64), nullable=False),
    Column("value", String(64), nullable=False),
    UniqueConstraint("region", "account", "principal_arn", "name",
                     name="uq_account_settings_principal_name"),
)

# ECS tasks. Controllers write desired_status; agents report last_status.
tasks = _scoped(
    "tasks",
    Column("cluster_arn", ARN, nullable=False),
    Column("arn", ARN, nullable=False, unique=True),
    Column("task_definition_arn", ARN, nullable=False),
    Column("family", String(255), nullable=False),
    Column("container_instance_arn", ARN),
    Column("group_name", String(255)),
    Column("started_by", String(128)),
    Column("service_name", String(255)),
    # The service deployment (ecs-svc/...) that started the task, if any.
    Column("deployment_id", String(64)),
    Column("launch_type", String(32), nullable=False),
    Column("last_status", String(32), nullable=False),
    Column("desired_status", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("stopped_at", DateTime(timezone=True)),
    # Copies of the doc's startedAt, healthStatus and stopCode, for the service controller.
    Column("started_at", DateTime(timezone=True)),
    Column("health_status", String(16), nullable=False, server_default="UNKNOWN"),
    Column("stop_code", String(64)),
    # What the task reserves on its instance (model.resources.Requirements): CPU units,
    # MiB, and its static host ports as comma-separated text (NULL when none), so an
    # instance's remaining resources and task counts are one aggregate over its live tasks.
    Column("reserved_cpu", Integer, nullable=False, server_default="0"),
    Column("reserved_memory", Integer, nullable=False, server_default="0"),
    Column("reserved_ports", Text),
    Column("reserved_ports_udp", Text),
    Column("version", BigInteger, nullable=False, default=1),
    Column("doc", JSON, nullable=False),
    Index("ix_tasks_cluster", "cluster_arn", "desired_status", "arn"),
    Index("ix_tasks_instance", "container_instance_arn", "desired_status"),
    Index("ix_tasks_family", "cluster_arn", "family"),
    Index("ix_tasks_started_by", "cluster_arn", "started_by"),
    Index("ix_tasks_service", "cluster_arn", "service_name"),
    # DescribeClusters counts running and pending tasks from this index alone.
    Index("ix_tasks_status", "cluster_arn", "last_status"),
    Index("ix_tasks_deployment", "deployment_id"),
    # An instance's live tasks alone (stopped ones pile up), covering the aggregate.
    Index("ix_tasks_instance_live", "container_instance_arn", "last_status", "reserved_cpu",
          "reserved_memory", sqlite_where=text("last_status != 'STOPPED'"),
          postgresql_where=text("last_status != 'STOPPED'")),
)

# CloudWatch Logs

# Log group and stream names compare byte by byte, as AWS lists them
# ("ASCII-sorted"), whatever collation the PostgreSQL database has; SQLite
# compares bytes already. Prefix searches rely on it too.
LOG_NAME = String(512).with_variant(String(512, collation="C"), "postgresql")

log_groups = _scoped(
    "log_groups",
    Column("name", LOG_NAME, nullable=False),
    # Times in the Logs API are epoch milliseconds; they are stored as such.
    Column("creation_time", BigInteger, nullable=False),
    Column("retention_in_days", Integer),
    Column("log_group_class", String(32), nullable=False),
    Column("deletion_protection", Boolean, nullable=False, default=False),
    Column("doc", JSON, nullable=False),
    UniqueConstraint("region", "account", "name", name="uq_log_groups_name"),
)

log_streams = _scoped(
    "log_streams",
    Column("group_id", BigInteger, nullable=False),
    Column("name", LOG_NAME, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("first_event_timestamp", BigInteger),
    # 0 until the first event, so that ordering by it needs no NULL handling;
    # last_ingestion_time tells whether the stream has had events.
    Column("last_event_timestamp", BigInteger, nullable=False, default=0),
    Column("last_ingestion_time", BigInteger),
    Column("stored_bytes", BigInteger, nullable=False, default=0),
    # Counts PutLogEvents calls: the sequence tokens handed out (and ignored).
    Column("upload_sequence", BigInteger, nullable=False, default=0),
    UniqueConstraint("group_id", "name", name="uq_log_streams_name"),
    Index("ix_log_streams_last_event", "group_id", "last_event_timestamp", "name"),
)

# One row per ingested event. `id` is the ingestion sequence: events order by
# (timestamp, id) in a stream (GetLogEvents) and across a group (FilterLogEvents).
log_events = Table(
    "log_events", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("group_id", BigInteger, nullable=False),
    Column("stream_id", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("ingestion_time", BigInteger, nullable=False),
    # UTF-8 bytes of the message: what storedBytes gives back when events expire.
    Column("size", Integer, nullable=False),
    Column("message", Text, nullable=False),
    Index("ix_log_events_stream", "stream_id", "timestamp", "id"),
    Index("ix_log_events_group", "group_id", "timestamp", "id"),
    # A live tail's poll: what a group ingested after the last id it saw.
    Index("ix_log_events_group_id", "group_id", "id"),
)

# CloudWatch Logs resource policies (PutResourcePolicy): recorded, not enforced. An
# account-scoped policy has resource_arn ''; a resource-scoped one names its log group's
# ARN and carries a revision id. Times are epoch milliseconds, as the API has them.
logs_resource_policies = _scoped(
    "logs_resource_policies",
    Column("name", String(512), nullable=False),
    Column("resource_arn", ARN, nullable=False),
    Column("document", Text, nullable=False),
    Column("revision_id", String(64), nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    UniqueConstraint("region", "account", "resource_arn", "name",
                     name="uq_logs_resource_policies_name"),
)

# ECS services: "keep desiredCount tasks of this task definition running".
services = _scoped(
    "services",
    Column("cluster_arn", ARN, nullable=False),
    Column("arn", ARN, nullable=False, unique=True),
    Column("name", String(255), nullable=False),
    Column("status", String(32), nullable=False),
    Column("desired_count", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("version", BigInteger, nullable=False, default=1),
    Column("doc", JSON, nullable=False),
    # What the service controller knows of its deployments beyond their AWS shape
    # (model/deployment_state.py); the doc is what DescribeServices shows.
    Column("deployment_state", JSON, nullable=False, server_default=text("'{}'")),
    Index("ix_services_cluster", "cluster_arn", "status", "arn"),
    Index("ix_services_name", "cluster_arn", "name"),
)

# Elastic Load Balancing (application load balancers). The data plane (nozama lb)
# reads these tables; it writes only what it observes: the targets' health, and
# when it last served each load balancer.
load_balancers = _scoped(
    "load_balancers",
    Column("name", String(32), nullable=False),
    Column("arn", ARN, nullable=False, unique=True),
    # The loopback address its listeners bind, its own so that two can use port 80.
    Column("address", String(45), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("doc", JSON, nullable=False),
    # A data plane's heartbeat: when one last served it (State active while recent).
    Column("served_at", DateTime(timezone=True)),
    Column("served_problem", Text),
    UniqueConstraint("region", "account", "name", name="uq_load_balancers_name"),
)

# The addresses a data plane's host owns (`nozama lb --address-pool`): load balancers
# take theirs from these pools, so that clients on other hosts reach them.
lb_address_pools = Table(
    "lb_address_pools", metadata,
    Column("cidr", String(49), primary_key=True),
    Column("owner", String(255), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)

target_groups = _scoped(
    "target_groups",
    Column("name", String(32), nullable=False),
    Column("arn", ARN, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("doc", JSON, nullable=False),
    UniqueConstraint("region", "account", "name", name="uq_target_groups_name"),
)

listeners = _scoped(
    "listeners",
    Column("load_balancer_arn", ARN, nullable=False),
    Column("arn", ARN, nullable=False, unique=True),
    Column("port", Integer, nullable=False),
    Column("doc", JSON, nullable=False),
    UniqueConstraint("load_balancer_arn", "port", name="uq_listeners_port"),
)

# A listener's rules; its default rule has priority NULL.
listener_rules = _scoped(
    "listener_rules",
    Column("listener_arn", ARN, nullable=False),
    Column("arn", ARN, nullable=False, unique=True),
    Column("priority", Integer),
    Column("doc", JSON, nullable=False),
    UniqueConstraint("listener_arn", "priority", name="uq_listener_rules_priority"),
)

# Which target groups each listener and rule forwards to (for ResourceInUse and
# TargetGroup.LoadBalancerArns).
target_group_uses = Table(
    "target_group_uses", metadata,
    Column("target_group_arn", ARN, primary_key=True),
    Column("user_arn", ARN, primary_key=True),
    Column("load_balancer_arn", ARN, nullable=False),
    Index("ix_target_group_uses_user", "user_arn"),
    Index("ix_target_group_uses_load_balancer", "load_balancer_arn"),
)

# Registered targets. `state` is what the API decided (registered, draining);
# health_* is what the data plane observed.
targets = Table(
    "targets", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("target_group_arn", ARN, nullable=False),
    Column("target_id", String(255), nullable=False),
    Column("port", Integer, nullable=False),
    Column("availability_zone", String(64)),
    Column("state", String(16), nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("drain_ends_at", DateTime(timezone=True)),
    Column("health_state", String(32), nullable=False),
    Column("health_reason", String(64)),
    Column("health_description", String(255)),
    UniqueConstraint("target_group_arn", "target_id", "port", name="uq_targets"),
)

# The certificates of HTTPS listeners: each listener's default certificate
# (is_default) and its certificate list for SNI. A certificate in use here cannot be
# deleted (ACM's ResourceInUseException) and lists the load balancer in its InUseBy.
listener_certificates = Table(
    "listener_certificates", metadata,
    Column("listener_arn", ARN, primary_key=True),
    Column("certificate_arn", ARN, primary_key=True),
    Column("load_balancer_arn", ARN, nullable=False),
    Column("is_default", Boolean, nullable=False),
    Index("ix_listener_certificates_certificate", "certificate_arn"),
)

# Bumped by every change the data plane must see; it polls this one row.
lb_generation = Table(
    "lb_generation", metadata,
    Column("id", Integer, primary_key=True),
    Column("generation", BigInteger, nullable=False),
)

# A metric: one (namespace, name, dimensions) of a region, as CloudWatch has it.
# dims_hash identifies the dimension set in a unique index of bounded width.
# The running totals and the last value serve the Prometheus exposition.
metric_series = _scoped(
    "metric_series",
    Column("namespace", String(255), nullable=False),
    Column("metric_name", String(255), nullable=False),
    Column("dims_hash", String(40), nullable=False),
    Column("dimensions", JSON, nullable=False),
    Column("unit", String(32)),
    Column("total_count", Float, nullable=False),
    Column("total_sum", Float, nullable=False),
    Column("last_value", Float),
    Column("last_at", BigInteger),
    UniqueConstraint("region", "account", "namespace", "metric_name", "dims_hash",
                     name="uq_metric_series"),
)

# Data points: what one write said about one second (resolution 1), or a minute
# rolled up from such seconds (resolution 60). Rows are only ever appended and
# deleted, never updated: concurrent writers cannot conflict. `sketch` is the
# histogram percentiles are read from (model/sketch.py); it is null for points
# written as StatisticValues, which carry no distribution.
metric_points = Table(
    "metric_points", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("series_id", BigInteger, nullable=False),
    Column("resolution", Integer, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("sample_count", Float, nullable=False),
    Column("sum", Float, nullable=False),
    Column("minimum", Float, nullable=False),
    Column("maximum", Float, nullable=False),
    Column("sketch", JSON),
    Index("ix_metric_points_series", "series_id", "ts"),
    Index("ix_metric_points_age", "resolution", "ts"),
)

metric_alarms = _scoped(
    "metric_alarms",
    Column("name", String(255), nullable=False),
    Column("arn", ARN, nullable=False, unique=True),
    Column("state_value", String(32), nullable=False),
    Column("doc", JSON, nullable=False),
    UniqueConstraint("region", "account", "name", name="uq_metric_alarms_name"),
)

alarm_history = _scoped(
    "alarm_history",
    Column("alarm_name", String(255), nullable=False),
    Column("timestamp", DateTime(timezone=True), nullable=False),
    Column("item_type", String(32), nullable=False),
    Column("doc", JSON, nullable=False),
    Index("ix_alarm_history_time", "region", "account", "timestamp"),
)

# Lambda functions. A function row is its $LATEST: `doc` is the configuration as
# GetFunctionConfiguration returns it (less what is derived on the way out), and
# `last_version` the number the next PublishVersion follows. Versions are frozen
# copies; aliases point at one version, and at most one more with a weight.
functions = _scoped(
    "functions",
    Column("name", String(64), nullable=False),
    Column("arn", ARN, nullable=False, unique=True),
    Column("code_sha256", String(64), nullable=False),
    Column("last_version", Integer, nullable=False),
    Column("reserved_concurrency", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("doc", JSON, nullable=False),
    UniqueConstraint("region", "account", "name", name="uq_functions_name"),
)

function_versions = Table(
    "function_versions", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("function_id", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Column("code_sha256", String(64), nullable=False),
    Column("doc", JSON, nullable=False),
    UniqueConstraint("function_id", "version", name="uq_function_versions"),
)

function_aliases = Table(
    "function_aliases", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("function_id", BigInteger, nullable=False),
    Column("name", String(128), nullable=False),
    Column("doc", JSON, nullable=False),
    UniqueConstraint("function_id", "name", name="uq_function_aliases"),
)

# A function's resource-based policies (AddPermission), one per qualifier ("" for
# the function itself): `doc` is the policy document GetPolicy returns.
function_policies = Table(
    "function_policies", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("function_id", BigInteger, nullable=False),
    Column("qualifier", String(128), nullable=False),
    Column("revision_id", String(64), nullable=False),
    Column("doc", JSON, nullable=False),
    UniqueConstraint("function_id", "qualifier", name="uq_function_policies"),
)

# Asynchronous invocation settings (PutFunctionEventInvokeConfig), one per qualifier
# ("$LATEST" for the function itself): `doc` is the FunctionEventInvokeConfig.
function_event_configs = Table(
    "function_event_configs", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("function_id", BigInteger, nullable=False),
    Column("qualifier", String(128), nullable=False),
    Column("doc", JSON, nullable=False),
    UniqueConstraint("function_id", "qualifier", name="uq_function_event_configs"),
)

# Deployment packages by their SHA-256: versions that share code share the row.
function_code = Table(
    "function_code", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("zip", LargeBinary, nullable=False),
)

# Secrets the servers share through the store (the HMAC key of the function code
# download URLs), so that any server of one store verifies what another signed.
server_keys = Table(
    "server_keys", metadata,
    Column("name", String(64), primary_key=True),
    Column("secret", LargeBinary, nullable=False),
)

# Asynchronous (InvocationType Event) invocations waiting to run: the 202 is sent
# once the row is committed, and the row goes when the invocation has run.
function_events = _scoped(
    "function_events",
    Column("function_name", String(64), nullable=False),
    Column("qualifier", String(128)),
    Column("payload", LargeBinary, nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Runs so far, and when the next may start (retries wait, as Lambda's do).
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("not_before", DateTime(timezone=True)),
)

# Traffic-shifted function deployments (`nozama functions deploy`): `doc` holds
# the plan and where it has got to, so that a restarted control plane goes on.
function_deployments = _scoped(
    "function_deployments",
    Column("deployment_id", String(32), nullable=False, unique=True),
    Column("function_name", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("doc", JSON, nullable=False),
    Index("ix_function_deployments_status", "status"),
)

# ACM certificates, imported or issued by Nozama's certificate authority (whose root
# is in server_keys). The PEM texts are kept apart from `doc` (DescribeCertificate's
# fields): the data plane reads a listener's certificate, chain and key from here.
certificates = _scoped(
    "certificates",
    Column("arn", ARN, nullable=False, unique=True),
    Column("status", String(32), nullable=False),
    Column("key_algorithm", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # RequestCertificate's IdempotencyToken: the same token within an hour, the same ARN.
    Column("idempotency_token", String(32)),
    Column("certificate", Text, nullable=False),
    Column("chain", Text),
    Column("private_key", Text, nullable=False),
    Column("doc", JSON, nullable=False),
    # ListCertificates pages by ARN within a region and account.
    Index("ix_certificates_scope", "region", "account", "arn"),
    Index("ix_certificates_token", "region", "account", "idempotency_token"),
)

# EC2's networking (aws/ec2/): VPCs, their subnets and security groups, and the groups'
# rules. The default VPC of a region and its subnets have ids derived from the account
# and region (model/networks.py), so the first requests of a region, on any server,
# create the same rows once. `doc` holds the AWS shape's remaining fields.
vpcs = _scoped(
    "vpcs",
    Column("vpc_id", String(32), nullable=False, unique=True),
    Column("cidr_block", String(32), nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("doc", JSON, nullable=False),
    # DescribeVpcs pages by id within a region and account.
    Index("ix_vpcs_scope", "region", "account", "vpc_id"),
)

subnets = _scoped(
    "subnets",
    Column("subnet_id", String(32), nullable=False, unique=True),
    Column("vpc_id", String(32), nullable=False),
    Column("cidr_block", String(32), nullable=False),
    Column("availability_zone", String(64), nullable=False),
    # DefaultForAz: a default VPC's subnet.
    Column("is_default", Boolean, nullable=False),
    Column("doc", JSON, nullable=False),
    Index("ix_subnets_scope", "region", "account", "subnet_id"),
    Index("ix_subnets_vpc", "vpc_id", "cidr_block"),
)

security_groups = _scoped(
    "security_groups",
    Column("group_id", String(32), nullable=False, unique=True),
    Column("vpc_id", String(32), nullable=False),
    Column("group_name", String(255), nullable=False),
    Column("doc", JSON, nullable=False),
    UniqueConstraint("vpc_id", "group_name", name="uq_security_groups_name"),
    Index("ix_security_groups_scope", "region", "account", "group_id"),
)

# One row per rule (SecurityGroupRule): a group's IpPermissions are built from them.
security_group_rules = Table(
    "security_group_rules", metadata,
    Column("rule_id", String(32), primary_key=True),
    Column("group_id", String(32), nullable=False),
    Column("is_egress", Boolean, nullable=False),
    Column("ip_protocol", String(16), nullable=False),
    Column("from_port", Integer),
    Column("to_port", Integer),
    Column("cidr_ipv4", String(32)),
    Column("referenced_group_id", String(32)),
    Column("description", String(255)),
    Index("ix_security_group_rules_group", "group_id", "is_egress"),
    # DeleteSecurityGroup: is the group named by another group's rule?
    Index("ix_security_group_rules_referenced", "referenced_group_id"),
)

# IAM (aws/iam/): global, so scoped by account only. Names are unique within an account
# whatever their case, as IAM's are: `name_key` is the lowercased name, `name` as given.
iam_users = Table(
    "iam_users", metadata,
    Column("account", String(12), primary_key=True),
    Column("name_key", String(64), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("user_id", String(32), nullable=False, unique=True),
    Column("arn", ARN, nullable=False),
    Column("path", String(512), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

iam_roles = Table(
    "iam_roles", metadata,
    Column("account", String(12), primary_key=True),
    Column("name_key", String(64), primary_key=True),
    Column("name", String(64), nullable=False),
    Column("role_id", String(32), nullable=False, unique=True),
    Column("arn", ARN, nullable=False),
    Column("path", String(512), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("trust_policy", Text, nullable=False),
    Column("max_session_duration", Integer, nullable=False),
    Column("description", String(1000)),
)

# The policies of users and roles, inline (kind 'inline': its name and document) and
# attached (kind 'managed': the policy's ARN, whose document is model data), in one
# table so that the access key lookup reads a principal's policies in one query.
iam_principal_policies = Table(
    "iam_principal_policies", metadata,
    Column("account", String(12), primary_key=True),
    Column("principal_type", String(8), primary_key=True),      # 'user' or 'role'
    Column("principal_key", String(64), primary_key=True),      # its name_key
    Column("kind", String(8), primary_key=True),                # 'inline' or 'managed'
    Column("policy_name", String(2048), primary_key=True),      # name, or managed ARN
    Column("document", Text),
)

# Access keys: users' long-term keys, the account root's (the bootstrap administrator
# key) and the temporary keys of assumed roles. The secret is sealed (AES-GCM, with the
# key of the server's data dir: store/sealing.py), never kept in clear; of a session
# token only its SHA-256 is kept, which is all that checking one needs.
access_keys = Table(
    "access_keys", metadata,
    Column("access_key_id", String(32), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("principal_type", String(8), nullable=False),        # 'user', 'role', 'root'
    Column("principal_key", String(64), nullable=False),        # name_key ('' for root)
    Column("status", String(16), nullable=False),               # 'Active', 'Inactive'
    Column("secret", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("session_token_sha256", String(64)),
    Column("session_name", String(64)),
    Column("expires_at", DateTime(timezone=True)),
    Index("ix_access_keys_principal", "account", "principal_type", "principal_key"),
    Index("ix_access_keys_expiry", "expires_at"),
)

# The credentials of tasks with a task role, as their agents are sent them: the id the
# task's containers ask the credentials endpoint for (kept for the task's life), and the
# current session of the role (its key is a row of access_keys), replaced before it
# expires. The secret and the session token are sealed as access keys' secrets are.
task_credentials = Table(
    "task_credentials", metadata,
    Column("task_arn", ARN, primary_key=True),
    Column("credentials_id", String(64), nullable=False, unique=True),
    Column("role_arn", ARN, nullable=False),
    Column("access_key_id", String(32), nullable=False),
    Column("secret", LargeBinary, nullable=False),
    Column("session_token", LargeBinary, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_task_credentials_expiry", "expires_at"),
)

# ECR repositories. The images themselves live in the registry (Docker Distribution, run
# by `nozama registry`); these tables are what the ECR API answers from, written when the
# registry's gate sees a push commit (registry/gate.py) and when images are deleted.
ecr_repositories = _scoped(
    "ecr_repositories",
    Column("name", String(256), nullable=False),
    Column("arn", ARN, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("image_tag_mutability", String(32), nullable=False),
    Column("lifecycle_policy", Text),
    Column("lifecycle_evaluated_at", DateTime(timezone=True)),
    # imageScanningConfiguration, encryptionConfiguration, imageTagMutabilityExclusionFilters
    Column("doc", JSON, nullable=False),
    UniqueConstraint("region", "account", "name", name="uq_ecr_repositories_name"),
)

ecr_images = Table(
    "ecr_images", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("repository_id", BigInteger, nullable=False),
    Column("digest", String(80), nullable=False),
    Column("manifest", Text, nullable=False),
    Column("manifest_media_type", String(255), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("pushed_at", DateTime(timezone=True), nullable=False),
    Column("last_pulled_at", DateTime(timezone=True)),
    UniqueConstraint("repository_id", "digest", name="uq_ecr_images_digest"),
    Index("ix_ecr_images_pushed", "repository_id", "pushed_at"),
)

# A tag names one image of its repository; moving it is one UPDATE, and the image it
# left stays, untagged, as on ECR.
ecr_image_tags = Table(
    "ecr_image_tags", metadata,
    Column("repository_id", BigInteger, primary_key=True),
    Column("tag", String(300), primary_key=True),
    Column("image_id", BigInteger, nullable=False),
    Index("ix_ecr_image_tags_image", "image_id"),
)

# Digests whose state in the registry must be brought in line with the store (an image
# deleted or untagged by the API, which never calls the registry): `nozama registry`
# applies them at start and every second after (registry/sweeper.py).
ecr_image_tombstones = Table(
    "ecr_image_tombstones", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("registry_name", String(300), nullable=False),       # "<region>/<name>"
    Column("digest", String(80), nullable=False),
    Column("deleted_at", DateTime(timezone=True), nullable=False),
)

# The running `nozama registry` processes, by the address clients push and pull at.
registries = Table(
    "registries", metadata,
    Column("address", String(255), primary_key=True),            # host:port
    Column("scheme", String(8), nullable=False),                  # 'http' or 'https'
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
)


# The controllers' lease: one row per lease name, held by one server until expires_at,
# its epoch raised at every change of holder (the fencing token of the leader's writes).
leadership = Table(
    "leadership", metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),                 # servers.id
    Column("epoch", BigInteger, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# The `nozama server` processes sharing this store, each renewing its heartbeat.
servers = Table(
    "servers", metadata,
    Column("id", String(64), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("address", String(300), nullable=False),               # its API's URL
    Column("version", String(64), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
    Index("ix_servers_heartbeat", "heartbeat_at"),
)

# Functions' invocations in flight, per server, where every server sees the total.
function_in_flight = Table(
    "function_in_flight", metadata,
    Column("region", String(32), primary_key=True),
    Column("account", String(12), primary_key=True),
    Column("function_name", String(170), primary_key=True),
    Column("server_id", String(64), primary_key=True),
    Column("in_flight", Integer, nullable=False),
)
