"""The control plane's wake-ups (kernel/wakeups.py), named for who waits on them.

When a decision changes what an instance must run, its agent's long poll must
return at once (wake_agent); when something a service depends on changes (a
task's state, an alarm, UpdateService), the service controller runs a pass now
instead of at its next tick (wake_controller). The store stays the truth.
"""

from __future__ import annotations

from nozama.kernel.wakeups import Wakeups

INSTANCE = "instance"   # subject: a container instance ARN
SERVICES = "services"   # no subject: the service controller's loop


def wake_agent(wakeups: Wakeups, instance_arn: str) -> None:
    wakeups.wake(INSTANCE, instance_arn)


async def agent_wait(wakeups: Wakeups, instance_arn: str, timeout: float) -> None:
    """Until the instance's assignments change or `timeout` passes."""
    await wakeups.wait(INSTANCE, instance_arn, timeout=timeout)


def wake_controller(wakeups: Wakeups) -> None:
    """Something changed: the service controller runs a pass now."""
    wakeups.wake(SERVICES)


async def controller_wait(wakeups: Wakeups, interval: float) -> None:
    """Until wake_controller is called or `interval` passes."""
    await wakeups.wait(SERVICES, timeout=interval)
