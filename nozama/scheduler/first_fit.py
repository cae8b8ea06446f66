"""First-fit placement: each task goes to the first instance with room for it.

This is the interim placement for RunTask and StartTask; the scheduler
pipeline (feasibility, ranking, strategies) replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass

from nozama.model.resources import Requirements, shortfall


@dataclass
class Candidate:
    arn: str
    available: list[dict]     # remainingResources, updated as tasks are placed
    connected: bool
    status: str


def _take(available: list[dict], need: Requirements) -> list[dict]:
    out = []
    for resource in available:
        item = dict(resource)
        if item["name"] == "CPU":
            item["integerValue"] -= need.cpu
        elif item["name"] == "MEMORY":
            item["integerValue"] -= need.memory
        elif item["name"] in ("PORTS", "PORTS_UDP"):
            ports = need.ports if item["name"] == "PORTS" else need.ports_udp
            item["stringSetValue"] = list(item.get("stringSetValue", [])) + [str(p) for p in ports]
        out.append(item)
    return out


def place(candidates: list[Candidate], need: Requirements, count: int
          ) -> tuple[list[str], list[dict]]:
    """Instance ARNs for up to `count` tasks, and ECS failures for the rest."""
    placed: list[str] = []
    reasons: dict[str, str] = {}
    for _ in range(count):
        chosen = None
        for candidate in candidates:
            reason = _reason(candidate, need)
            if reason is None:
                chosen = candidate
                break
            reasons[candidate.arn] = reason
        if chosen is None:
            break
        chosen.available = _take(chosen.available, need)
        placed.append(chosen.arn)
    failures = [] if len(placed) == count else \
        [{"arn": arn, "reason": reason} for arn, reason in reasons.items()]
    return placed, failures


def _reason(candidate: Candidate, need: Requirements) -> str | None:
    if candidate.status != "ACTIVE":
        return "INACTIVE" if candidate.status == "INACTIVE" else "DRAINING"
    if not candidate.connected:
        return "AGENT"
    return shortfall(candidate.available, need)
