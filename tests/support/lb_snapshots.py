"""Snapshots of the ELBv2 tables built in-process (as lb/config.py's load() builds them
from the store), and a real HAProxy on the configuration lb/haproxy_config.py renders
for one: the data plane's rules without a Nozama server."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import time
from pathlib import Path

from nozama.lb import haproxy_config
from nozama.lb.config import Listener, Snapshot, Target, TargetGroup
from nozama.model import lb_attributes, lb_rules

HAPROXY = os.environ.get("NOZAMA_HAPROXY", "/usr/sbin/haproxy")
_ids = itertools.count(1)


def target_group(arn: str, ports=(), host: str = "127.0.0.1", **attributes) -> TargetGroup:
    """An ip target group with ALB's default attributes, `attributes` over them (dots
    as double underscores: stickiness__enabled="true")."""
    merged = lb_attributes.defaults(lb_attributes.TARGET_GROUP)
    merged.update({k.replace("__", "."): v for k, v in attributes.items()})
    group = TargetGroup(arn, {"TargetGroupArn": arn, "TargetType": "ip",
                              "Protocol": "HTTP", "Attributes": merged})
    group.targets = [Target(next(_ids), arn, host, port, host, False, None) for port in ports]
    return group


def rule(conditions: list[dict], action: dict) -> dict:
    """A rule in its stored form, from API-shaped conditions and action."""
    return {"Conditions": lb_rules.conditions(conditions), "Actions": lb_rules.actions([action])}


def default(action: dict) -> dict:
    return rule([], action)


def forward(*groups, stickiness: int | None = None) -> dict:
    """A forward action in API shape: groups are ARNs or (ARN, weight)."""
    pairs = [(g, 1) if isinstance(g, str) else g for g in groups]
    config = {"TargetGroups": [{"TargetGroupArn": arn, "Weight": w} for arn, w in pairs]}
    if stickiness:
        config["TargetGroupStickinessConfig"] = {"Enabled": True, "DurationSeconds": stickiness}
    return {"Type": "forward", "ForwardConfig": config}


def with_identity(stored_rule: dict, identity: dict) -> dict:
    """The stored rule with its forward sharded by identity (as traffic_shift sets it)."""
    stored_rule["Actions"][0]["_identity"] = identity
    return stored_rule


def fixed(status: str, body: str | None = None, content_type: str | None = None) -> dict:
    config = {"StatusCode": status}
    if body is not None:
        config["MessageBody"] = body
    if content_type is not None:
        config["ContentType"] = content_type
    return {"Type": "fixed-response", "FixedResponseConfig": config}


def listener(port: int, rules: list[dict], address: str = "127.0.0.1",
             idle_timeout: float = 60.0) -> Listener:
    n = next(_ids)
    return Listener(f"arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/lb/x/{n}",
                    "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/lb/x",
                    address, port, rules, idle_timeout)


def snapshot(listeners: list[Listener], groups: list[TargetGroup] = ()) -> Snapshot:
    return Snapshot(1, {(item.address, item.port): item for item in listeners},
                    {g.arn: g for g in groups}, {}, [listeners[0].load_balancer_arn]
                    if listeners else [])


def all_ready(groups) -> dict[tuple, bool]:
    return {t.key: True for g in groups for t in g.targets}


def write(snap: Snapshot, ready: dict[tuple, bool], run_dir: Path,
          threads: int = 1) -> tuple[Path, haproxy_config.Rendered]:
    """The rendered configuration and its files, in place under run_dir."""
    (run_dir / "files").mkdir(parents=True, exist_ok=True)
    (run_dir / "maps").mkdir(parents=True, exist_ok=True)
    Path(haproxy_config.socket_dir(run_dir)).mkdir(mode=0o700, parents=True, exist_ok=True)
    rendered = haproxy_config.render(snap, ready, str(run_dir), threads=threads)
    for path, content in rendered.files.items():
        assert Path(path).parent.parent == run_dir, path
        Path(path).write_bytes(content)
    config = run_dir / "haproxy.cfg"
    config.write_text(rendered.text)
    return config, rendered


def check(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([HAPROXY, "-c", "-f", str(config)], capture_output=True, text=True,
                          check=False, timeout=30)


class HAProxy:
    """HAProxy in the foreground on a rendered configuration, until stop()."""

    def __init__(self, config: Path, ports: list[int]):
        self.log = config.with_name("haproxy.log")
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen([HAPROXY, "-db", "-f", str(config)],
                                            stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        deadline = time.monotonic() + 5
        for port in ports:
            while True:
                if self.process.poll() is not None:
                    raise AssertionError(f"HAProxy exited: {self.log.read_text()}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise AssertionError(f"HAProxy did not listen on {port}")
                    time.sleep(0.01)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=5)
