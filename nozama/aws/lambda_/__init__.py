"""Lambda (REST-JSON protocol): functions, versions, aliases, concurrency, tags, Invoke.

Configuration lives in the store (store/functions.py); Invoke hands the work to
the function runtime (functions/), which runs the code in worker processes.
"""

from nozama.aws import ServiceHandlers
from nozama.kernel import errors

handlers = ServiceHandlers("lambda", validation_error=errors.ValidationException)

# Importing the operation modules registers their handlers.
from nozama.aws.lambda_ import aliases, concurrency, functions, invoke  # noqa: E402,F401
from nozama.aws.lambda_ import event_invoke_configs, permissions  # noqa: E402,F401
from nozama.aws.lambda_ import tagging, versions  # noqa: E402,F401
