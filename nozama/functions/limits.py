"""Account limits of Lambda functions, per region as in AWS."""

from __future__ import annotations

import os

# Concurrent executions of all functions of an account in a region.
ACCOUNT_CONCURRENCY = int(os.environ.get("NOZAMA_LAMBDA_CONCURRENCY", "1000"))
# What reserved concurrency must leave to the functions without a reservation.
MIN_UNRESERVED = 100


class Throttled(Exception):
    """An invocation over a concurrency limit; `reason` is Lambda's Reason code."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
