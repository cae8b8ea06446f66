"""`nozama agent` stops on SIGTERM even when a cancellation gets lost on the way."""

from __future__ import annotations

import asyncio
import os
import signal

from nozama.cli import agent as agent_cli


class _SwallowsFirstCancel:
    """An agent whose run() loses one cancellation, as asyncio.wait_for can in 3.11."""

    def __init__(self, _config):
        self.cancels = 0
        self.closing = False

    async def run(self) -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                self.cancels += 1
                if self.cancels > 1:
                    raise


def test_sigterm_stops_an_agent_that_swallowed_a_cancellation(monkeypatch):
    monkeypatch.setattr(agent_cli, "Agent", _SwallowsFirstCancel)
    # The exit deadline would end this very process (pytest's) a few seconds later.
    armed = []
    monkeypatch.setattr(agent_cli.shutdown, "arm_deadline", lambda: armed.append(True))

    async def main():
        asyncio.get_running_loop().call_later(0.1, os.kill, os.getpid(), signal.SIGTERM)
        return await asyncio.wait_for(agent_cli._main(config=None), 5)

    # Without the repeated cancel, the agent never stops and wait_for times out.
    assert asyncio.run(main()) == 0
    assert armed
