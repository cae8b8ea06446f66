"""Metric alarms: PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric,
DescribeAlarmHistory, DeleteAlarms, SetAlarmState, Enable/DisableAlarmActions, and
the tags of alarms.

An alarm watches one metric; the evaluator (controllers/alarms.py) moves its
state. Periods go down to 1 second (CloudWatch's alarms stop at 10 s), so that
a deployment can be stopped within seconds of a bad release. Alarm actions are
stored and reported but not sent: Nozama serves no SNS or Auto Scaling; ECS
deployments read alarm states directly.
"""

from __future__ import annotations

import json

from nozama.kernel import errors
from nozama.kernel.context import RequestContext
from nozama.kernel.errors import ValidationError
from nozama.controllers.alarms import change_state
from nozama.model import statistics
from nozama.metrics.alarms import COMPARISONS, INSUFFICIENT_DATA
from nozama.model import arns
from nozama.aws import tagging
from nozama.aws.cloudwatch import handlers
from nozama.aws.cloudwatch.common import check_dimensions
from nozama.store import alarms as alarm_store
from nozama.store import tags as tag_store
from nozama.store.pagination import decode_token, encode_token

PERIODS = (1, 5, 10, 20, 30)
MAX_EVALUATED_SECONDS = 86_400
TREAT_MISSING = ("breaching", "notBreaching", "ignore", "missing")
_CONFIGURATION = ("AlarmDescription", "OKActions", "AlarmActions", "InsufficientDataActions",
                  "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions",
                  "Period", "Unit", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
                  "ComparisonOperator", "TreatMissingData", "EvaluateLowSampleCountPercentile")


def alarm_arn(ctx: RequestContext, name: str) -> str:
    return arns.arn("cloudwatch", ctx.region, ctx.account_id, f"alarm:{name}")


@handlers.operation("PutMetricAlarm")
def put_metric_alarm(ctx: RequestContext, params: dict) -> dict:
    config = _configuration(params)
    now = ctx.clock.now()
    name = params["AlarmName"]
    with ctx.store.write() as conn:
        existing = alarm_store.get(conn, ctx.region, ctx.account_id, name)
        if existing is None:
            doc = {"AlarmName": name, "AlarmArn": alarm_arn(ctx, name),
                   "StateValue": INSUFFICIENT_DATA,
                   "StateReason": "Unchecked: Initial alarm creation",
                   "StateUpdatedTimestamp": now.timestamp(),
                   "StateTransitionedTimestamp": now.timestamp()}
        else:
            doc = {k: v for k, v in existing.doc.items() if k not in _CONFIGURATION}
        doc.update(config, ActionsEnabled=params.get("ActionsEnabled", True),
                   AlarmConfigurationUpdatedTimestamp=now.timestamp())
        alarm_store.put(conn, ctx.region, ctx.account_id, doc)
        if params.get("Tags"):
            tag_store.put(conn, doc["AlarmArn"], tagging.from_pairs(params["Tags"]))
        kind = "Create" if existing is None else "Update"
        alarm_store.add_history(
            conn, ctx.region, ctx.account_id, name, now, "ConfigurationUpdate",
            f'Alarm "{name}" {"created" if existing is None else "updated"}',
            json.dumps({"version": "1.0", "type": kind,
                        f"{kind.lower()}dAlarm": _history_view(doc)}))
    return {}


def _configuration(params: dict) -> dict:
    """The alarm's configuration, checked: one metric, one statistic, a threshold."""
    if params.get("Metrics") is not None or params.get("ThresholdMetricId") is not None:
        raise ValidationError("Nozama evaluates alarms on one metric: Metrics (metric math) "
                              "and ThresholdMetricId are not supported.")
    for name in ("MetricName", "Namespace", "Period", "EvaluationPeriods",
                 "ComparisonOperator", "Threshold"):
        if params.get(name) is None:
            raise ValidationError(f"The parameter {name} is required.")
    if params["ComparisonOperator"] not in COMPARISONS:
        raise ValidationError(f"The comparison operator {params['ComparisonOperator']} needs "
                              "an anomaly detection band, which Nozama does not serve.")
    stat, extended = params.get("Statistic"), params.get("ExtendedStatistic")
    if bool(stat) == bool(extended):
        raise ValidationError(
            "Exactly one element of the Statistic and ExtendedStatistic parameters must be "
            "specified.")
    if extended and not statistics.is_percentile(extended):
        raise ValidationError(f"The value {extended} for parameter ExtendedStatistic is "
                              "invalid: Nozama evaluates percentiles (p0.0 to p100).")
    if params.get("EvaluateLowSampleCountPercentile") and not extended:
        raise ValidationError("EvaluateLowSampleCountPercentile is only for percentiles.")
    if params.get("EvaluateLowSampleCountPercentile") not in (None, "evaluate", "ignore"):
        raise ValidationError("EvaluateLowSampleCountPercentile must be evaluate or ignore.")
    period = params["Period"]
    if period not in PERIODS and period % 60:
        raise ValidationError("Period must be 1, 5, 10, 20, 30 or a multiple of 60.")
    if period * params["EvaluationPeriods"] > MAX_EVALUATED_SECONDS:
        raise ValidationError("The product of EvaluationPeriods and Period must not exceed "
                              f"{MAX_EVALUATED_SECONDS}.")
    if (params.get("DatapointsToAlarm") or 1) > params["EvaluationPeriods"]:
        raise ValidationError("DatapointsToAlarm must be less than or equal to "
                              "EvaluationPeriods.")
    if params.get("TreatMissingData") not in (None, *TREAT_MISSING):
        raise ValidationError(f"The value {params['TreatMissingData']} for parameter "
                              "TreatMissingData is invalid: use one of "
                              f"{', '.join(TREAT_MISSING)}.")
    check_dimensions(params.get("Dimensions") or [], "Dimensions")
    config = {k: params[k] for k in _CONFIGURATION if params.get(k) is not None}
    config.setdefault("OKActions", [])
    config.setdefault("AlarmActions", [])
    config.setdefault("InsufficientDataActions", [])
    config.setdefault("Dimensions", [])
    return config


def _history_view(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k in _CONFIGURATION or k in (
        "AlarmName", "ActionsEnabled")}


def _find(ctx: RequestContext, conn, name: str):
    row = alarm_store.get(conn, ctx.region, ctx.account_id, name)
    if row is None:
        raise errors.cloudwatch.ResourceNotFound(f"Alarm {name} not found")
    return row


@handlers.operation("DescribeAlarms")
def describe_alarms(ctx: RequestContext, params: dict) -> dict:
    names, prefix = params.get("AlarmNames"), params.get("AlarmNamePrefix")
    if names and prefix:
        raise errors.cloudwatch.InvalidParameterCombinationException(
            "AlarmNames and AlarmNamePrefix are mutually exclusive parameters.")
    types = params.get("AlarmTypes")
    if (types is not None and "MetricAlarm" not in types) or params.get(
            "ChildrenOfAlarmName") or params.get("ParentsOfAlarmName"):
        return {"MetricAlarms": [], "CompositeAlarms": []}
    limit = params.get("MaxRecords") or 50
    after = decode_token(params.get("NextToken"), "DescribeAlarms", str,
                         error=errors.cloudwatch.InvalidNextToken)
    action = params.get("ActionPrefix")
    with ctx.store.read() as conn:
        rows = alarm_store.search(conn, ctx.region, ctx.account_id, names=names or None,
                                  prefix=prefix, state=params.get("StateValue"), after=after)
    if action:
        rows = [r for r in rows if any(a.startswith(action) for key in (
            "AlarmActions", "OKActions", "InsufficientDataActions") for a in r.doc[key])]
    response = {"MetricAlarms": [r.doc for r in rows[:limit]], "CompositeAlarms": []}
    if len(rows) > limit:
        response["NextToken"] = encode_token("DescribeAlarms", rows[limit - 1].name)
    return response


@handlers.operation("DescribeAlarmsForMetric")
def describe_alarms_for_metric(ctx: RequestContext, params: dict) -> dict:
    wanted = {k: params[k] for k in ("Statistic", "ExtendedStatistic", "Period", "Unit")
              if params.get(k) is not None}
    dims = sorted((d["Name"], d["Value"]) for d in params.get("Dimensions") or [])
    with ctx.store.read() as conn:
        rows = alarm_store.search(conn, ctx.region, ctx.account_id)
    found = [r.doc for r in rows
             if r.doc["Namespace"] == params["Namespace"]
             and r.doc["MetricName"] == params["MetricName"]
             and all(r.doc.get(k) == v for k, v in wanted.items())
             and (not params.get("Dimensions") or
                  sorted((d["Name"], d["Value"]) for d in r.doc["Dimensions"]) == dims)]
    return {"MetricAlarms": found}


@handlers.operation("DescribeAlarmHistory")
def describe_alarm_history(ctx: RequestContext, params: dict) -> dict:
    types = params.get("AlarmTypes")
    if types is not None and "MetricAlarm" not in types:
        return {"AlarmHistoryItems": []}
    limit = params.get("MaxRecords") or 100
    after = decode_token(params.get("NextToken"), "DescribeAlarmHistory", int,
                         error=errors.cloudwatch.InvalidNextToken)
    with ctx.store.read() as conn:
        rows = alarm_store.history(
            conn, ctx.region, ctx.account_id, name=params.get("AlarmName"),
            item_type=params.get("HistoryItemType"), start=params.get("StartDate"),
            end=params.get("EndDate"),
            descending=params.get("ScanBy", "TimestampDescending") == "TimestampDescending",
            after_id=after, limit=limit + 1)
    items = [{"AlarmName": r.alarm_name, "AlarmType": "MetricAlarm", "Timestamp": r.timestamp,
              "HistoryItemType": r.item_type, **r.doc} for r in rows[:limit]]
    response = {"AlarmHistoryItems": items}
    if len(rows) > limit:
        response["NextToken"] = encode_token("DescribeAlarmHistory", rows[limit - 1].id)
    return response


@handlers.operation("DeleteAlarms")
def delete_alarms(ctx: RequestContext, params: dict) -> dict:
    names = params["AlarmNames"]
    with ctx.store.write() as conn:
        rows = [_find(ctx, conn, name) for name in names]  # all exist, or none is deleted
        alarm_store.remove(conn, ctx.region, ctx.account_id, names)
        for row in rows:
            tag_store.remove_all(conn, row.arn)
    return {}


@handlers.operation("SetAlarmState")
def set_alarm_state(ctx: RequestContext, params: dict) -> dict:
    data = params.get("StateReasonData")
    if data is not None:
        try:
            json.loads(data)
        except ValueError:
            raise errors.cloudwatch.InvalidFormatFault(
                "StateReasonData is not valid JSON.") from None
    with ctx.store.write() as conn:
        row = _find(ctx, conn, params["AlarmName"])
        change_state(ctx.region, ctx.account_id, conn, row, params["StateValue"],
                     params["StateReason"], data, ctx.clock.now())
    return {}


def _set_actions_enabled(ctx: RequestContext, names: list[str], enabled: bool) -> None:
    with ctx.store.write() as conn:
        for row in alarm_store.search(conn, ctx.region, ctx.account_id, names=names):
            alarm_store.set_state(conn, row.id, {**row.doc, "ActionsEnabled": enabled})


@handlers.operation("EnableAlarmActions")
def enable_alarm_actions(ctx: RequestContext, params: dict) -> dict:
    _set_actions_enabled(ctx, params["AlarmNames"], True)
    return {}


@handlers.operation("DisableAlarmActions")
def disable_alarm_actions(ctx: RequestContext, params: dict) -> dict:
    _set_actions_enabled(ctx, params["AlarmNames"], False)
    return {}


def _alarm_of_arn(ctx: RequestContext, conn, arn: str):
    parsed = arns.parse(arn)
    if parsed is None or parsed.service != "cloudwatch" or parsed.region != ctx.region or \
            parsed.account != ctx.account_id or not parsed.resource.startswith("alarm:"):
        raise errors.cloudwatch.ResourceNotFound(f"The resource {arn} does not exist.")
    row = alarm_store.get(conn, ctx.region, ctx.account_id, parsed.resource[len("alarm:"):])
    if row is None:
        raise errors.cloudwatch.ResourceNotFound(f"The resource {arn} does not exist.")
    return row


@handlers.operation("TagResource")
def tag_resource(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        row = _alarm_of_arn(ctx, conn, params["ResourceARN"])
        tag_store.put(conn, row.arn, tagging.from_pairs(params["Tags"]))
    return {}


@handlers.operation("UntagResource")
def untag_resource(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.write() as conn:
        row = _alarm_of_arn(ctx, conn, params["ResourceARN"])
        tag_store.remove(conn, row.arn, params["TagKeys"])
    return {}


@handlers.operation("ListTagsForResource")
def list_tags_for_resource(ctx: RequestContext, params: dict) -> dict:
    with ctx.store.read() as conn:
        row = _alarm_of_arn(ctx, conn, params["ResourceARN"])
        tags = tag_store.get(conn, row.arn)
    return {"Tags": tagging.as_pairs(tags)}
