"""CloudWatch Logs (JSON 1.1 protocol): log groups, log streams, log events, tags,
resource policies, Live Tail sessions."""

from nozama.aws import ServiceHandlers
from nozama.kernel import errors

handlers = ServiceHandlers("logs", validation_error=errors.logs.InvalidParameterException)

# Importing the operation modules registers their handlers.
from nozama.aws.logs import filter_events, get_events, log_groups  # noqa: E402,F401
from nozama.aws.logs import log_streams, put_events, retention, tagging  # noqa: E402,F401
from nozama.aws.logs import live_tail, resource_policies  # noqa: E402,F401
