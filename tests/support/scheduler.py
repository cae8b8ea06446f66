"""InstanceState builders for the scheduler's unit tests."""

from __future__ import annotations

from collections import Counter

from nozama.scheduler.state import InstanceState

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
ZONE = "ecs.availability-zone"


def instance(n: int = 1, cpu: int = 1024, memory: int = 2048, *, zone: str | None = None,
             attributes: dict | None = None, groups: dict | None = None,
             **fields) -> InstanceState:
    """Container instance `arn:ci/<n>` with that much CPU and memory left, in `zone` (by
    default ZONES[n % 3]) plus `attributes`, running tasks of `groups` ({group: count});
    other InstanceState fields as keywords (remaining_cpu=... overrides cpu)."""
    fields.setdefault("remaining_cpu", cpu)
    fields.setdefault("remaining_memory", memory)
    if groups is not None:
        fields["task_groups"] = Counter(groups)
    return InstanceState(f"arn:ci/{n}", attributes={ZONE: zone or ZONES[n % 3],
                                                     **(attributes or {})}, **fields)
