"""CloudWatch metric alarms through boto3: their lifecycle, the evaluator moving their
state as data comes in, history, filters, tags, and the errors of bad input."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from support.errors import error_code
from support.waiting import wait_for


@pytest.fixture
def cloudwatch(server, region):
    return server.client("cloudwatch", region)


def put_alarm(cloudwatch, name: str, **change) -> None:
    request = {"AlarmName": name, "Namespace": "Shop", "MetricName": "Errors",
               "Statistic": "Sum", "Period": 1, "EvaluationPeriods": 3, "DatapointsToAlarm": 1,
               "Threshold": 5, "ComparisonOperator": "GreaterThanThreshold",
               "TreatMissingData": "notBreaching"}
    request.update(change)
    cloudwatch.put_metric_alarm(**{k: v for k, v in request.items() if v is not None})


def alarm(cloudwatch, name: str) -> dict:
    return cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def test_an_alarm_follows_its_metric(cloudwatch, region):
    put_alarm(cloudwatch, "errors", AlarmActions=["arn:aws:sns:x:1:page-me"],
              Tags=[{"Key": "team", "Value": "shop"}], TreatMissingData="missing")
    created = alarm(cloudwatch, "errors")
    assert created["AlarmArn"] == f"arn:aws:cloudwatch:{region}:000000000000:alarm:errors"
    assert created["StateValue"] == "INSUFFICIENT_DATA"
    assert created["ActionsEnabled"] and created["AlarmActions"] == ["arn:aws:sns:x:1:page-me"]

    cloudwatch.put_metric_data(Namespace="Shop", MetricData=[
        {"MetricName": "Errors", "Value": 9, "StorageResolution": 1}])
    wait_for(lambda: alarm(cloudwatch, "errors")["StateValue"] == "ALARM", timeout=10)
    fired = alarm(cloudwatch, "errors")
    assert fired["StateReason"].startswith("Threshold Crossed: 1 out of the last 3 datapoints "
                                           "[9.0 (")
    assert json.loads(fired["StateReasonData"])["recentDatapoints"] == [9.0]
    # The bad second leaves the window, and no data is left: INSUFFICIENT_DATA again.
    wait_for(lambda: alarm(cloudwatch, "errors")["StateValue"] == "INSUFFICIENT_DATA",
             timeout=10)
    # Missing data treated as not breaching makes it OK.
    put_alarm(cloudwatch, "errors")
    wait_for(lambda: alarm(cloudwatch, "errors")["StateValue"] == "OK", timeout=10)

    history = cloudwatch.describe_alarm_history(AlarmName="errors")["AlarmHistoryItems"]
    assert [h["HistorySummary"] for h in history] == [
        "Alarm updated from INSUFFICIENT_DATA to OK", 'Alarm "errors" updated',
        "Alarm updated from ALARM to INSUFFICIENT_DATA",
        "Alarm updated from INSUFFICIENT_DATA to ALARM", 'Alarm "errors" created']
    assert [h["HistoryItemType"] for h in cloudwatch.describe_alarm_history(
        AlarmName="errors", HistoryItemType="ConfigurationUpdate")["AlarmHistoryItems"]] == [
        "ConfigurationUpdate"] * 2
    oldest = cloudwatch.describe_alarm_history(AlarmName="errors", ScanBy="TimestampAscending",
                                               MaxRecords=1)
    assert oldest["AlarmHistoryItems"][0]["HistorySummary"] == 'Alarm "errors" created'
    assert len(cloudwatch.describe_alarm_history(
        AlarmName="errors", ScanBy="TimestampAscending", MaxRecords=1,
        NextToken=oldest["NextToken"])["AlarmHistoryItems"]) == 1

    # An update replaces the configuration and keeps the state.
    put_alarm(cloudwatch, "errors", Threshold=100, AlarmDescription="many errors")
    updated = alarm(cloudwatch, "errors")
    assert (updated["Threshold"], updated["AlarmDescription"], updated["StateValue"]) == (
        100, "many errors", "OK")
    assert updated["AlarmActions"] == []
    assert cloudwatch.list_tags_for_resource(ResourceARN=updated["AlarmArn"])["Tags"] == [
        {"Key": "team", "Value": "shop"}]


def test_set_state_actions_filters_and_delete(cloudwatch):
    # SetAlarmState holds only until the next evaluation (each second here), as in AWS: the
    # alarm set to ALARM treats missing data as breaching, so the evaluator agrees with it.
    for name in ("web-5xx", "web-latency", "db-cpu"):
        put_alarm(cloudwatch, name,
                  TreatMissingData="breaching" if name == "web-5xx" else "missing",
                  OKActions=["arn:aws:sns:x:1:ok"] if name == "db-cpu" else None)
    cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="drill",
                               StateReasonData='{"why": "testing"}')
    assert alarm(cloudwatch, "web-5xx")["StateReason"] == "drill"
    assert [a["AlarmName"] for a in cloudwatch.describe_alarms(StateValue="ALARM")[
        "MetricAlarms"]] == ["web-5xx"]
    assert [a["AlarmName"] for a in cloudwatch.describe_alarms(AlarmNamePrefix="web-")[
        "MetricAlarms"]] == ["web-5xx", "web-latency"]
    assert [a["AlarmName"] for a in cloudwatch.describe_alarms(ActionPrefix="arn:aws:sns:x:1:o")[
        "MetricAlarms"]] == ["db-cpu"]
    assert cloudwatch.describe_alarms(AlarmTypes=["CompositeAlarm"])["MetricAlarms"] == []
    page = cloudwatch.describe_alarms(MaxRecords=2)
    assert [a["AlarmName"] for a in page["MetricAlarms"]] == ["db-cpu", "web-5xx"]
    assert [a["AlarmName"] for a in cloudwatch.describe_alarms(
        MaxRecords=2, NextToken=page["NextToken"])["MetricAlarms"]] == ["web-latency"]
    assert len(cloudwatch.describe_alarms_for_metric(Namespace="Shop", MetricName="Errors")[
        "MetricAlarms"]) == 3
    assert cloudwatch.describe_alarms_for_metric(Namespace="Shop", MetricName="Errors",
                                                 Period=60)["MetricAlarms"] == []

    cloudwatch.disable_alarm_actions(AlarmNames=["db-cpu", "no-such-alarm"])
    assert alarm(cloudwatch, "db-cpu")["ActionsEnabled"] is False
    cloudwatch.enable_alarm_actions(AlarmNames=["db-cpu"])
    assert alarm(cloudwatch, "db-cpu")["ActionsEnabled"] is True

    with pytest.raises(ClientError) as info:
        cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue="OK", StateReason="x",
                                   StateReasonData="{not json")
    assert error_code(info) == "InvalidFormat"
    with pytest.raises(ClientError) as info:
        cloudwatch.set_alarm_state(AlarmName="nope", StateValue="OK", StateReason="x")
    assert error_code(info) == "ResourceNotFound"
    with pytest.raises(ClientError) as info:
        cloudwatch.describe_alarms(AlarmNames=["db-cpu"], AlarmNamePrefix="db")
    assert error_code(info) == "InvalidParameterCombination"
    # One unknown name: nothing is deleted.
    with pytest.raises(ClientError) as info:
        cloudwatch.delete_alarms(AlarmNames=["db-cpu", "nope"])
    assert error_code(info) == "ResourceNotFound"
    assert len(cloudwatch.describe_alarms()["MetricAlarms"]) == 3
    cloudwatch.delete_alarms(AlarmNames=["db-cpu", "web-5xx"])
    assert [a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]] == [
        "web-latency"]
    assert cloudwatch.describe_alarm_history(AlarmName="db-cpu")["AlarmHistoryItems"] == []


@pytest.mark.parametrize("change", [
    {"ExtendedStatistic": "p99"},                         # both statistics
    {"Statistic": None},                                  # neither
    {"Statistic": None, "ExtendedStatistic": "p101"},
    {"Statistic": None, "ExtendedStatistic": "tm90"},
    {"Period": 7},
    {"Period": 90},
    {"Period": 3600, "EvaluationPeriods": 25},            # more than a day
    {"DatapointsToAlarm": 4},                             # more than EvaluationPeriods
    {"TreatMissingData": "sometimes"},
    {"ComparisonOperator": "GreaterThanUpperThreshold"},  # anomaly detection
    {"EvaluateLowSampleCountPercentile": "ignore"},       # not a percentile alarm
    {"Threshold": None},
    {"Dimensions": [{"Name": "A", "Value": "1"}, {"Name": "A", "Value": "2"}]},
    {"Metrics": [{"Id": "m", "Expression": "SUM(METRICS())"}], "MetricName": None,
     "Namespace": None, "Statistic": None, "Period": None},
])
def test_bad_alarms_are_refused_and_change_nothing(cloudwatch, change):
    put_alarm(cloudwatch, "kept")
    with pytest.raises(ClientError) as info:
        put_alarm(cloudwatch, "kept", **change)
    assert error_code(info) in ("ValidationError", "InvalidParameterValue")
    kept = alarm(cloudwatch, "kept")
    assert (kept["Period"], kept["Threshold"], kept["Statistic"]) == (1, 5, "Sum")
    with pytest.raises(ClientError):
        put_alarm(cloudwatch, "new", **change)
    assert [a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]] == ["kept"]


def test_percentile_alarms(cloudwatch):
    put_alarm(cloudwatch, "slow", Statistic=None, ExtendedStatistic="p90", Threshold=0.5,
              MetricName="Latency", TreatMissingData="missing")
    cloudwatch.put_metric_data(Namespace="Shop", MetricData=[
        {"MetricName": "Latency", "Values": [0.1, 0.9], "Counts": [80, 20],
         "StorageResolution": 1}])
    wait_for(lambda: alarm(cloudwatch, "slow")["StateValue"] == "ALARM", timeout=10)
    time.sleep(0.1)
    assert alarm(cloudwatch, "slow")["ExtendedStatistic"] == "p90"
