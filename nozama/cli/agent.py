"""`nozama agent`: the agent of one container instance."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from pathlib import Path

from nozama.agent import credentials
from nozama.agent.agent import Agent, AgentConfig, Deregistered
from nozama.agent.channel import ChannelError, key_refused
from nozama.kernel.host_address import AddressError, check_own, route_address
from nozama.kernel import shutdown
from nozama.model import zones

log = logging.getLogger("nozama.agent")


def run_agent(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    attributes = {}
    for item in args.attribute:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--attribute takes NAME=VALUE, not {item!r}")
        attributes[name] = value
    region = _region(args, parser)
    if args.ca_bundle:
        if not os.access(args.ca_bundle, os.R_OK):
            parser.error(f"--ca-bundle {args.ca_bundle}: cannot read it")
        # The runtime's own AWS clients (the awslogs shippers) trust it too.
        os.environ["AWS_CA_BUNDLE"] = args.ca_bundle
    try:
        address = check_own(args.address or route_address(args.endpoints[0]))
    except AddressError as error:
        parser.error(str(error))
    key = agent_credentials(args.credentials_file, parser)
    zone = args.availability_zone or "local"
    from nozama.cli.main import _default_data_dir
    state_dir = Path(args.data_dir or Path(_default_data_dir()) / "agents" /
                     f"{region}-{args.cluster}-{zone}")
    config = AgentConfig(
        endpoint=args.endpoints, cluster=args.cluster, availability_zone=args.availability_zone,
        region=region, address=address, runtime=args.runtime, attributes=attributes,
        disable_privileged=args.disable_privileged, ca_bundle=args.ca_bundle,
        credentials=key,
        instance_type=args.instance_type, state_dir=state_dir, cleanup_wait=args.cleanup_wait,
        runtime_options={"state_path": str(state_dir / "simulated.json")}
        if args.runtime == "simulated" else {})
    # Calls the runtime abandoned as it closed (a `docker stop` in flight) must not
    # hold the exit: see kernel/shutdown.py.
    shutdown.finish(asyncio.run(_main(config)))


def agent_credentials(path: str | None, parser: argparse.ArgumentParser):
    """The agent's key: from `path` (an AWS credentials file), else where the AWS SDKs
    look (agent/credentials.py). None, with a warning, when there is none: the agent
    then signs nothing, which only a control plane with auth off accepts."""
    try:
        key = credentials.resolve(path)
    except credentials.CredentialsError as error:
        parser.error(f"--credentials-file: {error}")
    if key is None:
        log.warning("no AWS credentials: this agent signs nothing, which only a control "
                    "plane with --auth off accepts (see --credentials-file)")
    return key


def _region(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    """--region; without it, the zone's region (a zone names its region), else the
    environment's default region."""
    zone = args.availability_zone
    if zone and zones.region_of(zone) is None:
        parser.error(f"--availability-zone {zone!r} is not a zone name: a region and a "
                     f"letter of {zones.LETTERS}, e.g. us-west-2b")
    region = args.region or (zones.region_of(zone) if zone else None) or \
        os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    if zone and zones.refusal(zone, region):
        parser.error(zones.refusal(zone, region))
    return region


async def _main(config: AgentConfig) -> int:
    agent = Agent(config)
    runner = asyncio.ensure_future(agent.run())
    loop = asyncio.get_running_loop()

    def stop() -> None:
        # Stop the agent, not its tasks: containers keep running and are adopted later.
        shutdown.arm_deadline()
        # Python 3.11's asyncio.wait_for loses a cancellation that lands just as the
        # awaited call completes (a long poll answered at that moment), so cancel
        # again until the agent is closing, and then let it close.
        if not runner.done() and not agent.closing:
            runner.cancel()
            loop.call_later(0.2, stop)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    try:
        await runner
    except asyncio.CancelledError:
        log.info("agent stopped; its tasks keep running")
    except Deregistered:
        return 5  # the ECS agent's exit code for a deregistered instance
    except ChannelError as error:
        if error.refuses_key:
            log.error("%s", key_refused(agent.channel, error))
        else:
            log.error("the control plane refused this agent: %s", error)
        return 1
    return 0
