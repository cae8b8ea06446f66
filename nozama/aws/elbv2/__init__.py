"""Elastic Load Balancing v2 (query protocol): application load balancers, target groups,
targets, listeners and rules. The data plane that carries the traffic is nozama/lb/."""

from nozama.aws import ServiceHandlers
from nozama.kernel import errors

handlers = ServiceHandlers("elbv2", validation_error=errors.ValidationError)

# Importing the operation modules registers their handlers.
from nozama.aws.elbv2 import listeners, load_balancers, rules  # noqa: E402,F401
from nozama.aws.elbv2 import tagging, target_groups, targets  # noqa: E402,F401
from nozama.aws.elbv2 import listener_certificates, ssl_policies  # noqa: E402,F401
from nozama.aws.elbv2 import load_balancer_network  # noqa: E402,F401
