"""A service's events (DescribeServices' `events`), as the service controller says them.

ECS keeps the newest 100 events of a service and says "has reached a steady state"
once after anything else happened; `once` keeps a message the controller would
repeat every pass (a task it cannot place) from filling the list.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from nozama.model.deployment_state import DeploymentState

MAX_EVENTS = 100
STEADY = "has reached a steady state."


class ServiceEvents:
    def __init__(self, doc: dict, state: DeploymentState, name: str, now: datetime):
        self.events, self.state, self.name, self.now = doc["events"], state, name, now

    def add(self, message: str, once: bool = False) -> None:
        """Add `(service NAME) message`."""
        message = f"(service {self.name}) {message}"
        if once and self.events and self.events[-1]["message"] == message:
            return
        if not message.endswith("steady state."):
            self.state.steady = False
        self.events.append({"id": str(uuid.uuid4()), "createdAt": self.now.timestamp(),
                            "message": message})
        del self.events[:-MAX_EVENTS]

    def of_deployment(self, deployment: dict, message: str) -> None:
        """Add `(service NAME) (deployment ID) message`."""
        self.add(f"(deployment {deployment['id']}) {message}")

    def steady(self) -> None:
        """The service is steady: say so, once."""
        if not self.state.steady:
            self.add(STEADY)
        self.state.steady = True
