"""What a handler knows about the request it serves."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nozama.kernel.clock import Clock
from nozama.kernel.http_client import BackgroundCalls
from nozama.kernel.wakeups import Wakeups


@dataclass
class RequestContext:
    region: str
    account_id: str
    request_id: str
    # The store (nozama.store.Store): typed loosely so that the kernel imports
    # nothing of Nozama's upper layers.
    store: Any
    clock: Clock
    # The function runtime (functions/invoker.py) where the process runs one.
    functions: Any = None
    # The server's wake-ups; a context made outside a server gets its own, which no
    # one waits on.
    wakeups: Wakeups = field(default_factory=Wakeups)
    # The server's calls out (ECS lifecycle hooks), run off the event loop.
    calls: BackgroundCalls = field(default_factory=BackgroundCalls)
    # The base URL the client reached the server at ("http://host:port"), for URLs
    # that point back at it (GetFunction's Code.Location); empty outside a request.
    endpoint: str = ""
    # Who signed the request: the access key id of its SigV4 credential scope, and, once
    # the verifier has looked the key up, the principal it stands for (model.iam.Principal,
    # typed loosely as `store` is). STS GetCallerIdentity answers from these.
    access_key_id: str = ""
    caller: Any = None
