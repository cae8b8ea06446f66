"""Task IAM role credentials on the agent's side: from the assignments to the containers.

The control plane sends each task's credentials with its assignment (a `credentials`
member: a `credentialsId` the task keeps for its life, and the current session of the
task's role, renewed before it expires). The agent writes them to the host's credentials
directory (agent/credentials_directory.py), which every agent's credentials endpoint on
the host answers from (agent/credentials_endpoint.py). Several agents may run on one host
and only one address 169.254.170.2:80 exists there: they all listen on it (SO_REUSEPORT)
and whichever the kernel hands a connection answers it, for any task.

A file goes when its task stops here, and when it expires (the endpoint's sweep, for what
a killed agent left behind). An agent that restarts finds the files of its running tasks
where it left them, and the control plane sends them again with its first poll.

The task's containers are told where to ask as ECS tells them: the agent adds
AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/<id> to the environment of every
container of the task (`definition_for`), whatever its runtime.
"""

from __future__ import annotations

import copy
import logging
from datetime import datetime, timezone
from pathlib import Path

from nozama.agent.credentials_directory import ID, CredentialsDirectory
from nozama.agent.credentials_endpoint import CredentialsEndpoint
from nozama.kernel.clock import Clock
from nozama.model import role_sessions as rules

log = logging.getLogger(__name__)

TASK_ROLE_CAPABILITIES = ("com.amazonaws.ecs.capability.task-iam-role",
                          "com.amazonaws.ecs.capability.task-iam-role-network-host")


class TaskCredentials:
    """This agent's tasks' credentials: written as assignments bring them, removed as its
    tasks stop."""

    def __init__(self, directory: str | Path, clock: Clock):
        self.directory = CredentialsDirectory(directory)
        self.endpoint = CredentialsEndpoint(self.directory, clock)
        self.usable = False
        self.serving = False
        self.of_task: dict[str, str] = {}        # task ARN -> credentials id
        self.written: dict[str, str] = {}        # credentials id -> its access key id
        self.stopped: set[str] = set()           # tasks that stopped here

    async def start(self) -> None:
        """Take the host's credentials directory and serve it. Neither failing stops the
        agent: its tasks then run without their role's credentials (and it says so)."""
        self.usable = self.directory.prepare()
        self.serving = self.usable and await self.endpoint.start()

    def capabilities(self) -> list[str]:
        """What the instance advertises: tasks with a task role are placed only where
        their credentials can be served, as ECS places them only on instances whose agent
        has task IAM roles enabled (in bridge and host network modes alike)."""
        return list(TASK_ROLE_CAPABILITIES) if self.serving else []

    async def close(self) -> None:
        """Stop serving; the files stay for the tasks that keep running."""
        try:
            await self.endpoint.close()
        except Exception:  # noqa: BLE001 - closing the agent must go on
            log.exception("closing the credentials endpoint failed")

    def update(self, task_arn: str, credentials: dict | None) -> None:
        """Keep what an assignment says of a task's credentials (nothing, for a task
        without a role)."""
        if not credentials or not self.usable:
            return
        credentials_id = credentials.get("credentialsId", "")
        if not ID.fullmatch(credentials_id):
            log.warning("ignoring credentials of %s with a malformed id", task_arn)
            return
        if task_arn in self.stopped:
            # Stopped here, maybe while this agent was down: what it left goes too.
            self.directory.remove(credentials_id)
            return
        self.of_task[task_arn] = credentials_id
        if self.written.get(credentials_id) == credentials.get("accessKeyId"):
            return
        try:
            self.directory.write(credentials_id, task_arn, endpoint_answer(credentials),
                                 _epoch(credentials["expiration"]))
        except (OSError, KeyError, ValueError) as error:
            # The next poll brings them again: the task's containers wait until then.
            log.warning("writing the credentials of %s failed: %r", task_arn, error)
            return
        self.written[credentials_id] = credentials["accessKeyId"]

    def definition_for(self, task_arn: str, definition: dict) -> dict:
        """The task definition to run the task with: its containers told where their
        credentials are, when it has some."""
        credentials_id = self.of_task.get(task_arn)
        if credentials_id is None:
            return definition
        return with_environment(definition, {
            rules.RELATIVE_URI_VARIABLE: rules.relative_uri(credentials_id)})

    def forget(self, task_arn: str) -> None:
        """The task stopped here: its credentials go, and are not written again."""
        self.stopped.add(task_arn)
        credentials_id = self.of_task.pop(task_arn, None)
        if credentials_id is not None:
            self.written.pop(credentials_id, None)
            self.directory.remove(credentials_id)


def endpoint_answer(credentials: dict) -> dict:
    """What the endpoint answers for a task's credentials, in the ECS agent's names."""
    return {"RoleArn": credentials["roleArn"], "AccessKeyId": credentials["accessKeyId"],
            "SecretAccessKey": credentials["secretAccessKey"],
            "Token": credentials["sessionToken"], "Expiration": credentials["expiration"]}


def with_environment(definition: dict, variables: dict[str, str]) -> dict:
    """A copy of `definition` whose every container has `variables` in its environment
    (over a variable of the same name, as the ECS agent merges its own in)."""
    definition = copy.deepcopy(definition)
    for container in definition.get("containerDefinitions") or []:
        environment = [entry for entry in container.get("environment") or []
                       if entry.get("name") not in variables]
        environment += [{"name": name, "value": value} for name, value in variables.items()]
        container["environment"] = environment
    return definition


def _epoch(expiration: str) -> float:
    """An ISO 8601 instant ("2026-05-12T21:58:49Z") as seconds since the epoch."""
    moment = datetime.fromisoformat(expiration.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
