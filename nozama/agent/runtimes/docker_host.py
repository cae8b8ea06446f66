"""What a task needs from the host's Docker Engine besides its containers: images
and volumes, and finding or removing what a task left behind by its labels.

Blocking Docker SDK calls; the runtime runs them in threads. Failures that mean
"this task cannot start" raise TaskStartError with the reason ECS would give.
"""

from __future__ import annotations

import logging

from docker.errors import APIError, ImageNotFound, NotFound
from docker.utils import parse_repository_tag

from nozama.agent.registry_pull import PullError
from nozama.agent.runtimes import docker_config as config
from nozama.agent.runtimes.base import LABEL_INSTANCE, LABEL_TASK_ARN
from nozama.model import ecr_references

log = logging.getLogger(__name__)


class TaskStartError(Exception):
    """The task cannot start; the message is its stoppedReason."""


def explain(error: APIError) -> str:
    """Docker's own message, without the SDK's HTTP preamble."""
    return str(error.explanation or error)


def ensure_image(client, image: str, registry=None, account: str | None = None) -> str:
    """Make the engine hold `image`; give the reference to create its containers from.

    An image of a Nozama ECR repository is pulled through `registry`
    (agent/registry_pull.RegistryPuller) every time, as a pushed tag may have moved; any
    other image is pulled only when the engine lacks it."""
    if registry is not None:
        pulled = _pull_from_registry(client, image, registry, account)
        if pulled is not None:
            return pulled
    try:
        client.images.get(image)
        return image
    except ImageNotFound:
        pass
    repository, tag = parse_repository_tag(image)
    try:
        # A tag must be given: without one the SDK pulls every tag of the repository.
        client.images.pull(repository, tag=tag or "latest")
    except APIError as error:
        raise TaskStartError(f"CannotPullContainerError: {explain(error)}") from error
    return image


def _pull_from_registry(client, image: str, registry, account: str | None) -> str | None:
    try:
        reference = ecr_references.parse(image)
        if reference is None:
            return None
        return registry.pull(client, reference, account)
    except ecr_references.InvalidReference as error:
        raise TaskStartError(f"CannotPullContainerError: {error}") from None
    except PullError as error:
        raise TaskStartError(str(error)) from error


def provide_volume(client, task_arn: str, instance_arn: str, task_definition: dict,
                   plan: config.VolumePlan) -> str:
    """The source to mount for a task volume: a host path or a Docker volume name."""
    if plan.kind == "bind":
        return plan.source
    if plan.kind == "shared":
        try:
            client.volumes.get(plan.name)
            return plan.name
        except NotFound:
            if not plan.autoprovision:
                raise TaskStartError(f"CannotCreateVolumeError: shared volume {plan.name} "
                                     f"does not exist and autoprovision is off") from None
        name, labels = plan.name, plan.labels
    else:
        name = config.task_volume_name(task_definition, plan.name)
        # Labelled with the task, so cleanup finds it even after an agent restart.
        labels = {**plan.labels, LABEL_TASK_ARN: task_arn, LABEL_INSTANCE: instance_arn}
    try:
        client.volumes.create(name=name, driver=plan.driver, driver_opts=plan.driver_opts,
                              labels=labels)
    except APIError as error:
        raise TaskStartError(f"CannotCreateVolumeError: {explain(error)}") from error
    return name


def inspect_by_label(client, label: str) -> list[dict]:
    """`docker inspect` of every container (running or not) carrying `label`."""
    result = []
    for summary in client.api.containers(all=True, filters={"label": [label]}):
        try:
            result.append(client.api.inspect_container(summary["Id"]))
        except NotFound:
            pass      # removed since the listing
    return result


def remove_task_resources(client, task_arn: str) -> None:
    """Remove a task's containers and its task-scoped volumes."""
    label = [f"{LABEL_TASK_ARN}={task_arn}"]
    for summary in client.api.containers(all=True, filters={"label": label}):
        try:
            client.api.remove_container(summary["Id"], force=True)
        except NotFound:
            pass
    for volume in client.volumes.list(filters={"label": label}):
        try:
            volume.remove(force=True)
        except APIError as error:     # in use elsewhere, or already gone
            log.warning("could not remove volume %s of %s: %s", volume.name, task_arn, error)
