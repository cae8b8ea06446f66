"""What a handler knows about the request it serves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nozama.clock import Clock
from nozama.store import Store


@dataclass
class RequestContext:
    region: str
    account_id: str
    request_id: str
    store: Store
    clock: Clock
    # The function runtime (functions/invoker.py) where the process runs one.
    functions: Any = None

    @property
    def availability_zones(self) -> tuple[str, str, str]:
        return (f"{self.region}a", f"{self.region}b", f"{self.region}c")
