"""The Lambda Runtime API, as a runtime in a worker process sees it.

Each worker gets an endpoint of its own (AWS_LAMBDA_RUNTIME_API), as each
Lambda execution environment does, so a request needs no worker id: the
connection's listener says whose it is. The runtime long-polls `next` for an
invocation, then posts its response or error; a runtime that cannot load the
handler posts an init error instead.
"""

from __future__ import annotations

import json
from typing import Awaitable, Protocol

from nozama.kernel.http import HttpRequest, HttpResponse

PREFIX = "/2018-06-01/runtime/"
ERROR_TYPE = "lambda-runtime-function-error-type"
ACCEPTED = HttpResponse(202, b'{"status":"OK"}', {"content-type": "application/json"})
# The most a function may answer, and what its caller gets instead of a larger answer.
MAX_RESPONSE = 6 * 1024 * 1024 + 100
RESPONSE_TOO_LARGE = json.dumps({
    "errorMessage": f"Response payload size exceeded maximum allowed payload size "
                    f"({MAX_RESPONSE} bytes).",
    "errorType": "Function.ResponseSizeTooLarge"}).encode()


class Runtime(Protocol):
    """What the API needs of the worker it serves (functions/workers.py)."""

    def next_invocation(self) -> Awaitable[HttpResponse]: ...
    def responded(self, request_id: str, payload: bytes) -> bool: ...
    def failed(self, request_id: str, payload: bytes, error_type: str | None) -> bool: ...
    def init_failed(self, payload: bytes, error_type: str | None) -> None: ...


def next_response(request_id: str, payload: bytes, deadline_ms: int, function_arn: str,
                  trace_id: str, client_context: str | None) -> HttpResponse:
    headers = {"content-type": "application/json",
               "lambda-runtime-aws-request-id": request_id,
               "lambda-runtime-deadline-ms": str(deadline_ms),
               "lambda-runtime-invoked-function-arn": function_arn,
               "lambda-runtime-trace-id": trace_id}
    if client_context:
        headers["lambda-runtime-client-context"] = client_context
    return HttpResponse(200, payload, headers)


def handler(runtime: Runtime):
    """The HTTP handler of one worker's endpoint."""

    def handle(request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if not request.path.startswith(PREFIX):
            return _error(404, "Unknown path")
        path = request.path[len(PREFIX):]
        error_type = request.headers.get(ERROR_TYPE)
        if path == "invocation/next" and request.method == "GET":
            return runtime.next_invocation()
        if path == "init/error" and request.method == "POST":
            runtime.init_failed(request.body, error_type)
            return ACCEPTED
        if path.startswith("invocation/") and request.method == "POST":
            request_id, _, outcome = path[len("invocation/"):].partition("/")
            # The worker's server keeps no body over MAX_RESPONSE (functions/workers.py).
            if outcome == "response" and request.oversized:
                runtime.failed(request_id, RESPONSE_TOO_LARGE, "Function.ResponseSizeTooLarge")
                return _error(413, f"Exceeded maximum allowed payload size ({MAX_RESPONSE} "
                              "bytes).", "RequestEntityTooLarge")
            if outcome == "response":
                done = runtime.responded(request_id, request.body)
            elif outcome == "error":
                done = runtime.failed(request_id, request.body, error_type)
            else:
                return _error(404, "Unknown path")
            # Lambda answers 400 to a response for an invocation that is not the current one.
            return ACCEPTED if done else _error(400, "Invalid request ID")
        return _error(404, "Unknown path")

    return handle


def _error(status: int, message: str, error_type: str = "InvalidRequest") -> HttpResponse:
    body = json.dumps({"errorType": error_type, "errorMessage": message}).encode()
    return HttpResponse(status, body, {"content-type": "application/json"})
