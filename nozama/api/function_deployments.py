"""Nozama's own API for function deployments, under /_nozama/v1/function-deployments.

No AWS API starts a traffic-shifted deployment of a function without CodeDeploy,
which Nozama does not serve; `nozama functions deploy` uses this instead. JSON
in and out, errors shaped as AWS's JSON errors ({"__type", "message"}).

  POST /_nozama/v1/function-deployments             start one (body: the parameters)
  GET  /_nozama/v1/function-deployments?functionName=F   list, newest first
  GET  /_nozama/v1/function-deployments/ID          describe
  POST /_nozama/v1/function-deployments/ID/stop     stop and roll back
Each takes the region as `region` in the query string (default us-east-1).

The start's body: functionName, aliasName, newVersion, and either deploymentConfig
(CodeDeploy's names) or type (linear, the default; canary; all-at-once) with steps,
interval (seconds) and percent (a percentage: 0.1 is 0.1% of traffic; the alias's
weights are fractions). Without an interval, CodeDeploy's defaults for the type
(60 s for linear, 300 s for canary); all-at-once has none and needs one. Every step
but the one that ends the shift is judged; `"healthChecks": false` is the only way
to an unjudged step (and the only way to an interval of 0), and its events say so.
Also: alarms, allowNoInvocations, preTrafficHook, postTrafficHook.
"""

from __future__ import annotations

import json
import logging

from nozama.kernel import errors
from nozama.kernel.errors import ServiceError
from nozama.api.gateway import Gateway
from nozama.kernel.http import HttpRequest, HttpResponse
from nozama.controllers import function_deployments as deployments
from nozama.store.db import StoreUnavailable

log = logging.getLogger(__name__)

PREFIX = "/_nozama/v1/function-deployments"


def handle(gateway: Gateway, workflow, request: HttpRequest) -> HttpResponse:
    try:
        ctx = gateway.context(request.query.get("region") or "us-east-1")
        rest = request.path[len(PREFIX):].strip("/")
        if not rest and request.method == "POST":
            body = json.loads(request.body or b"{}")
            if not isinstance(body, dict):
                raise errors.lambda_.InvalidRequestContentException("POST a JSON object.")
            return _json(201, deployments.create(ctx, body))
        if not rest and request.method == "GET":
            found = deployments.listing(ctx, request.query.get("functionName"))
            return _json(200, {"deployments": found})
        deployment_id, _, action = rest.partition("/")
        if not action and request.method == "GET":
            return _json(200, deployments.describe(ctx, deployment_id))
        if action == "stop" and request.method == "POST":
            return _json(200, workflow.stop(ctx, deployment_id))
        return _json(404, {"__type": "UnknownOperationException",
                           "message": f"No such route: {request.method} {request.path}"})
    except ServiceError as error:
        return _json(error.status, {"__type": error.code, "message": error.message})
    except StoreUnavailable:
        error = errors.ServiceUnavailableException("Service is temporarily unavailable; retry.")
        return _json(error.status, {"__type": error.code, "message": error.message})
    except ValueError:
        return _json(400, {"__type": "InvalidRequestContentException",
                           "message": "The body is not valid JSON."})
    except Exception:
        log.exception("function deployment request failed")
        return _json(500, {"__type": "ServiceException", "message": "Internal error"})


def _json(status: int, document: dict) -> HttpResponse:
    return HttpResponse(status, json.dumps(document).encode(),
                        {"content-type": "application/json"})
