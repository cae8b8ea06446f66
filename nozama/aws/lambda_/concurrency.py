"""PutFunctionConcurrency, GetFunctionConcurrency, DeleteFunctionConcurrency.

Reserved concurrency is a function-wide setting (the reserved_concurrency column):
both the most instances the function may run at once and a share of the
region's account limit no other function can take. Reservations must leave
MIN_UNRESERVED of the limit to the functions without one, as in AWS.
"""

from __future__ import annotations

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.functions import limits, notify
from nozama.aws.lambda_ import handlers
from nozama.functions.lookup import find_function, unqualified_name
from nozama.store import functions as function_store


@handlers.operation("PutFunctionConcurrency")
def put_function_concurrency(ctx: RequestContext, params: dict) -> dict:
    name = unqualified_name(ctx, params["FunctionName"])
    reserved = params["ReservedConcurrentExecutions"]
    with ctx.store.write() as conn:
        function = find_function(ctx, conn, name)
        # The function's own reservation is being replaced, so it does not count.
        others = function_store.total_reserved_concurrency(conn, ctx.region, ctx.account_id,
                                                           except_id=function.id)
        if limits.ACCOUNT_CONCURRENCY - others - reserved < limits.MIN_UNRESERVED:
            raise errors.lambda_.InvalidParameterValueException(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of "
                f"[{limits.MIN_UNRESERVED}].")
        function_store.set_reserved_concurrency(conn, function.id, reserved)
    notify.function_changed(ctx, name)
    return {"ReservedConcurrentExecutions": reserved}


@handlers.operation("GetFunctionConcurrency")
def get_function_concurrency(ctx: RequestContext, params: dict) -> dict:
    name = unqualified_name(ctx, params["FunctionName"])
    with ctx.store.read() as conn:
        reserved = find_function(ctx, conn, name).reserved_concurrency
    return {} if reserved is None else {"ReservedConcurrentExecutions": reserved}


@handlers.operation("DeleteFunctionConcurrency")
def delete_function_concurrency(ctx: RequestContext, params: dict) -> dict:
    name = unqualified_name(ctx, params["FunctionName"])
    with ctx.store.write() as conn:
        function_store.set_reserved_concurrency(conn, find_function(ctx, conn, name).id, None)
    notify.function_changed(ctx, name)
    return {}
