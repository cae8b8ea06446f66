"""The data plane's view of the ELBv2 tables: one consistent snapshot at a time.

The API bumps a generation counter with every change the data plane must
see; the data plane polls that one row and reloads the snapshot when it moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from nozama.store import Store
from nozama.store import certificates as certificate_store
from nozama.store import container_instances as instance_store
from nozama.store import listener_certificates
from nozama.store import load_balancers as lb_store
from nozama.store import sql

# Where an instance target is reached when its container instance registered no host
# address (registered through the API without one): this machine.
INSTANCE_HOST = "127.0.0.1"


@dataclass(frozen=True)
class Target:
    row_id: int
    target_group_arn: str
    target_id: str
    port: int
    host: str
    draining: bool
    drain_ends_at: datetime | None
    # The health last observed (by this or an earlier data plane process), so that a
    # restarted data plane routes at once instead of waiting for its first checks.
    health: tuple[str, str | None, str | None] = ("initial", "Elb.RegistrationInProgress",
                                                  "Target registration is in progress")

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.target_group_arn, self.target_id, self.port)


@dataclass
class TargetGroup:
    arn: str
    doc: dict
    targets: list[Target] = field(default_factory=list)

    def __post_init__(self):
        # Read on every request: a plain attribute, not a property.
        self.attributes: dict[str, str] = self.doc["Attributes"]


@dataclass
class Listener:
    arn: str
    load_balancer_arn: str
    address: str
    port: int
    rules: list[dict]          # by priority, the default rule last
    idle_timeout: float
    protocol: str = "HTTP"
    ssl_policy: str | None = None
    certificates: list[str] = field(default_factory=list)  # HTTPS: the default one first


@dataclass
class Snapshot:
    generation: int
    listeners: dict[tuple[str, int], Listener]
    target_groups: dict[str, TargetGroup]
    dns_names: dict[str, str]  # DNS name -> the load balancer's address
    load_balancers: list[str] = field(default_factory=list)  # every load balancer's ARN
    # The PEM texts of the certificates HTTPS listeners use: (certificate, chain, key).
    certificates: dict[str, tuple[str, str | None, str]] = field(default_factory=dict)


def load(store: Store) -> Snapshot:
    with store.read() as conn:
        generation = lb_store.generation(conn)
        balancers = {r.arn: r for r in sql.all_rows(conn, "SELECT * FROM load_balancers")}
        listeners = sql.all_rows(conn, "SELECT * FROM listeners")
        rules = sql.all_rows(conn, "SELECT * FROM listener_rules ORDER BY CASE WHEN priority "
                                   "IS NULL THEN 1 ELSE 0 END, priority")
        # Every group, in use or not: the data plane checks the targets of unused groups
        # too (the API still calls them unused), so that a listener or rule that starts
        # forwarding to a group finds its healthy targets at once, not after its checks.
        group_rows = sql.all_rows(conn, "SELECT * FROM target_groups")
        groups = {r.arn: TargetGroup(r.arn, r.doc) for r in group_rows}
        scope = {r.arn: (r.region, r.account) for r in group_rows}
        hosts = instance_store.addresses(conn)
        for row in sql.all_rows(conn, "SELECT * FROM targets ORDER BY id"):
            group = groups.get(row.target_group_arn)
            if group is None:
                continue
            # An instance target at its host's address, an ip target at its own.
            host = row.target_id if group.doc["TargetType"] != "instance" else \
                hosts.get((*scope[group.arn], row.target_id)) or \
                INSTANCE_HOST
            group.targets.append(Target(row.id, row.target_group_arn, row.target_id, row.port,
                                        host, row.state == "draining", row.drain_ends_at,
                                        (row.health_state, row.health_reason,
                                         row.health_description)))
        tls = listener_certificates.of_listeners(conn, [r.arn for r in listeners])
        material = {}
        for found in tls.values():
            for arn in [found.default, *found.sni]:
                if arn and arn not in material:
                    pem = certificate_store.material(conn, arn)
                    if pem is not None:
                        material[arn] = pem
    by_listener: dict[str, list[dict]] = {}
    for rule in rules:
        by_listener.setdefault(rule.listener_arn, []).append(rule.doc)
    result = {}
    for row in listeners:
        balancer = balancers.get(row.load_balancer_arn)
        if balancer is None:
            continue
        idle = float(balancer.doc["Attributes"]["idle_timeout.timeout_seconds"])
        certificates = tls.get(row.arn)
        arns = [a for a in ([certificates.default, *certificates.sni] if certificates else [])
                if a in material]
        result[(balancer.address, row.port)] = Listener(
            row.arn, balancer.arn, balancer.address, row.port, by_listener.get(row.arn, []), idle,
            row.doc.get("Protocol", "HTTP"), row.doc.get("SslPolicy"), arns)
    dns = {b.doc["DNSName"]: b.address for b in balancers.values()}
    return Snapshot(generation, result, groups, dns, list(balancers), material)


def generation(store: Store) -> int:
    with store.read() as conn:
        return lb_store.generation(conn)
