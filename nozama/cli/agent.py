"""`nozama agent`: the agent of one container instance."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from nozama.agent.agent import Agent, AgentConfig, Deregistered
from nozama.agent.channel import ChannelError
from nozama.kernel import shutdown

log = logging.getLogger("nozama.agent")


def run_agent(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    attributes = {}
    for item in args.attribute:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--attribute takes NAME=VALUE, not {item!r}")
        attributes[name] = value
    zone = args.availability_zone or "local"
    from nozama.cli.main import _default_data_dir
    state_dir = Path(args.data_dir or Path(_default_data_dir()) / "agents" /
                     f"{args.region}-{args.cluster}-{zone}")
    config = AgentConfig(
        endpoint=args.endpoint, cluster=args.cluster, availability_zone=args.availability_zone,
        region=args.region, runtime=args.runtime, attributes=attributes,
        instance_type=args.instance_type, state_dir=state_dir, cleanup_wait=args.cleanup_wait,
        runtime_options={"state_path": str(state_dir / "simulated.json")}
        if args.runtime == "simulated" else {})
    # Calls the runtime abandoned as it closed (a `docker stop` in flight) must not
    # hold the exit: see kernel/shutdown.py.
    shutdown.finish(asyncio.run(_main(config)))


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
        log.error("the control plane refused this agent: %s", error)
        return 1
    return 0
