"""CloudWatch (RPC v2 CBOR, JSON or query protocol): metrics and metric alarms.

The data lives in the metrics store (store/metrics.py); the load balancer's data
plane writes its metrics there, PutMetricData writes the rest.
"""

from nozama.aws import ServiceHandlers
from nozama.kernel import errors

handlers = ServiceHandlers("cloudwatch",
                           validation_error=errors.cloudwatch.InvalidParameterValueException)

# Importing the operation modules registers their handlers.
from nozama.aws.cloudwatch import alarms, get_data, list_metrics, put_data  # noqa: E402,F401
