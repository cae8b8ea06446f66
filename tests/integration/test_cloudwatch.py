"""CloudWatch metrics through boto3: PutMetricData in its three forms, the statistics
of GetMetricStatistics and GetMetricData, ListMetrics, and the errors of bad input.

Expectations follow the CloudWatch API reference. The server keeps real time, so
data is stamped relative to now.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from support.errors import error_code

# CRUD, pagination and validation on the store: on SQLite and on PostgreSQL.
pytestmark = pytest.mark.store_matrix


@pytest.fixture
def cloudwatch(server, region):
    return server.client("cloudwatch", region)


def minute_ago() -> datetime:
    """A whole minute, so that one 60 s period holds everything stamped with it."""
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    return now - timedelta(minutes=1)


def statistics(cloudwatch, name: str, at: datetime, period: int = 60, dims=(), **kwargs):
    return cloudwatch.get_metric_statistics(
        Namespace="Shop", MetricName=name, Dimensions=list(dims), StartTime=at,
        EndTime=at + timedelta(seconds=period), Period=period, **kwargs)["Datapoints"]


def test_values_counts_and_statistic_sets(cloudwatch):
    at = minute_ago()
    dims = [{"Name": "Page", "Value": "cart"}, {"Name": "Env", "Value": "prod"}]
    cloudwatch.put_metric_data(Namespace="Shop", MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Timestamp": at,
         "Values": [10, 20, 30, 1000], "Counts": [50, 40, 9, 1], "Unit": "Milliseconds"},
        {"MetricName": "Orders", "Timestamp": at, "Value": 3, "Unit": "Count"},
        {"MetricName": "Orders", "Timestamp": at + timedelta(seconds=5), "StatisticValues": {
            "SampleCount": 4, "Sum": 10, "Minimum": 1, "Maximum": 5}, "Unit": "Count"}])

    # Dimensions are a set: their order does not matter.
    [point] = statistics(cloudwatch, "Latency", at, dims=reversed(dims), Statistics=[
        "SampleCount", "Sum", "Minimum", "Maximum", "Average"])
    assert point["SampleCount"] == 100 and point["Sum"] == 500 + 800 + 270 + 1000
    assert (point["Minimum"], point["Maximum"], point["Average"]) == (10, 1000, 25.7)
    assert point["Unit"] == "Milliseconds" and point["Timestamp"] == at
    [point] = statistics(cloudwatch, "Latency", at, dims=dims,
                         ExtendedStatistics=["p50", "p90", "p99", "p99.9", "p100"])
    found = point["ExtendedStatistics"]
    assert found["p50"] == pytest.approx(10, rel=0.01)
    assert found["p90"] == pytest.approx(20, rel=0.01)
    assert found["p99"] == pytest.approx(30, rel=0.01)
    assert found["p99.9"] == pytest.approx(1000, rel=0.01) and found["p100"] == 1000

    [point] = statistics(cloudwatch, "Orders", at, Statistics=["Sum", "SampleCount", "Maximum"])
    assert (point["Sum"], point["SampleCount"], point["Maximum"]) == (13, 5, 5)
    # A statistic set carries no distribution: no percentiles for its period.
    [point] = statistics(cloudwatch, "Orders", at, ExtendedStatistics=["p50"])
    assert point["ExtendedStatistics"] == {}
    # Another dimension set is another metric.
    assert statistics(cloudwatch, "Latency", at, dims=dims[:1], Statistics=["Sum"]) == []
    # A unit filter that does not match finds nothing.
    assert statistics(cloudwatch, "Orders", at, Statistics=["Sum"], Unit="Seconds") == []


def test_high_resolution_periods(cloudwatch):
    at = minute_ago()
    cloudwatch.put_metric_data(Namespace="Shop", MetricData=[
        {"MetricName": "Clicks", "Timestamp": at + timedelta(seconds=s), "Value": s,
         "StorageResolution": 1} for s in range(10)])
    points = statistics(cloudwatch, "Clicks", at, period=10, Statistics=["Sum", "SampleCount"])
    assert [(p["Sum"], p["SampleCount"]) for p in points] == [(45, 10)]
    points = cloudwatch.get_metric_statistics(
        Namespace="Shop", MetricName="Clicks", StartTime=at, EndTime=at + timedelta(seconds=10),
        Period=1, Statistics=["Maximum"])["Datapoints"]
    assert sorted((p["Timestamp"], p["Maximum"]) for p in points) == [
        (at + timedelta(seconds=s), s) for s in range(10)]


def test_get_metric_data(cloudwatch):
    at = minute_ago()
    cloudwatch.put_metric_data(Namespace="Shop", MetricData=[
        {"MetricName": "Visits", "Timestamp": at + timedelta(seconds=s), "Value": s + 1}
        for s in range(6)])

    def query(**kwargs):
        return cloudwatch.get_metric_data(
            MetricDataQueries=[
                {"Id": "visits", "MetricStat": {"Metric": {"Namespace": "Shop",
                                                           "MetricName": "Visits"},
                                                "Period": 1, "Stat": "Sum"}},
                {"Id": "hidden", "ReturnData": False, "MetricStat": {
                    "Metric": {"Namespace": "Shop", "MetricName": "Visits"}, "Period": 60,
                    "Stat": "Sum"}},
                {"Id": "absent", "Label": "Nothing", "MetricStat": {
                    "Metric": {"Namespace": "Shop", "MetricName": "Nope"}, "Period": 60,
                    "Stat": "p99"}}],
            StartTime=at, EndTime=at + timedelta(minutes=1), **kwargs)

    result = query()
    visits, absent = result["MetricDataResults"]
    assert visits["Id"] == "visits" and visits["Label"] == "Visits"
    assert visits["Values"] == [6, 5, 4, 3, 2, 1]  # newest first
    assert visits["Timestamps"][0] == at + timedelta(seconds=5)
    assert visits["StatusCode"] == "Complete"
    assert (absent["Label"], absent["Values"]) == ("Nothing", [])
    assert query(ScanBy="TimestampAscending")["MetricDataResults"][0]["Values"] == \
        [1, 2, 3, 4, 5, 6]
    # Pages of MaxDatapoints.
    first = query(MaxDatapoints=4)
    assert first["MetricDataResults"][0]["Values"] == [6, 5, 4, 3]
    rest = query(MaxDatapoints=4, NextToken=first["NextToken"])
    assert rest["MetricDataResults"][0]["Values"] == [2, 1] and "NextToken" not in rest


def test_list_metrics(cloudwatch, server):
    cloudwatch.put_metric_data(Namespace="Shop", MetricData=[
        {"MetricName": "Stock", "Dimensions": [{"Name": "Store", "Value": f"s{i}"}], "Value": i}
        for i in range(600)] + [{"MetricName": "Sales", "Value": 1}])
    cloudwatch.put_metric_data(Namespace="Other", MetricData=[{"MetricName": "Sales",
                                                               "Value": 1}])
    first = cloudwatch.list_metrics(Namespace="Shop")
    assert len(first["Metrics"]) == 500
    rest = cloudwatch.list_metrics(Namespace="Shop", NextToken=first["NextToken"])
    assert len(rest["Metrics"]) == 101 and "NextToken" not in rest
    assert cloudwatch.list_metrics(Namespace="Shop", Dimensions=[
        {"Name": "Store", "Value": "s7"}])["Metrics"] == [
        {"Namespace": "Shop", "MetricName": "Stock",
         "Dimensions": [{"Name": "Store", "Value": "s7"}]}]
    assert len(cloudwatch.list_metrics(MetricName="Sales")["Metrics"]) == 2
    assert len(cloudwatch.list_metrics(MetricName="Sales", RecentlyActive="PT3H")[
        "Metrics"]) == 2
    # Regions are isolated.
    assert server.client("cloudwatch", "eu-nowhere-1").list_metrics(Namespace="Shop")[
        "Metrics"] == []


@pytest.mark.parametrize("datum, code", [
    ({"Value": 1, "Values": [1]}, "InvalidParameterCombination"),
    ({"Value": 1, "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1,
                                      "Maximum": 1}}, "InvalidParameterCombination"),
    ({}, "MissingParameter"),
    ({"Value": float("nan")}, "InvalidParameterValue"),
    ({"Value": float("inf")}, "InvalidParameterValue"),
    ({"Values": [1, 2], "Counts": [1]}, "InvalidParameterValue"),
    ({"Values": [1], "Counts": [0]}, "InvalidParameterValue"),
    ({"Values": list(range(151))}, "InvalidParameterValue"),
    ({"Value": 1, "StorageResolution": 5}, "InvalidParameterValue"),
    ({"StatisticValues": {"SampleCount": 2, "Sum": 1, "Minimum": 3, "Maximum": 1}},
     "InvalidParameterValue"),
    ({"StatisticValues": {"SampleCount": 0, "Sum": 1, "Minimum": 1, "Maximum": 1}},
     "InvalidParameterValue"),
    ({"Value": 1, "Timestamp": datetime.now(timezone.utc) - timedelta(days=15)},
     "InvalidParameterValue"),
    ({"Value": 1, "Timestamp": datetime.now(timezone.utc) + timedelta(hours=3)},
     "InvalidParameterValue"),
    ({"Value": 1, "Dimensions": [{"Name": "A", "Value": "1"}, {"Name": "A", "Value": "2"}]},
     "InvalidParameterValue"),
    ({"Value": 1, "Dimensions": [{"Name": f"d{i}", "Value": "v"} for i in range(31)]},
     "InvalidParameterValue"),
])
def test_bad_data_is_refused_whole(cloudwatch, datum, code):
    good = {"MetricName": "Good", "Value": 1}
    with pytest.raises(ClientError) as info:
        cloudwatch.put_metric_data(Namespace="Shop", MetricData=[
            good, {"MetricName": "Bad", **datum}])
    assert error_code(info) == code
    assert cloudwatch.list_metrics(Namespace="Shop")["Metrics"] == []


def test_aws_namespaces_are_the_services_own(cloudwatch):
    with pytest.raises(ClientError) as info:
        cloudwatch.put_metric_data(Namespace="AWS/ApplicationELB",
                                   MetricData=[{"MetricName": "RequestCount", "Value": 1}])
    assert error_code(info) == "InvalidParameterValue"


@pytest.mark.parametrize("change, code", [
    ({"Statistics": ["Sum"], "ExtendedStatistics": ["p99"]}, "InvalidParameterCombination"),
    ({"Statistics": []}, "InvalidParameterCombination"),
    ({"Statistics": [], "ExtendedStatistics": ["p101"]}, "InvalidParameterValue"),
    ({"Statistics": [], "ExtendedStatistics": ["Sum"]}, "InvalidParameterValue"),
    ({"Period": 7}, "InvalidParameterValue"),
    ({"Period": 90}, "InvalidParameterValue"),
    ({"EndTime": datetime(2026, 1, 1, tzinfo=timezone.utc)}, "InvalidParameterValue"),
    ({"Period": 1, "StartTime": datetime.now(timezone.utc) - timedelta(hours=1)},
     "InvalidParameterCombination"),
])
def test_bad_statistics_requests(cloudwatch, change, code):
    request = {"Namespace": "Shop", "MetricName": "Any", "Period": 60, "Statistics": ["Sum"],
               "StartTime": datetime.now(timezone.utc) - timedelta(minutes=10),
               "EndTime": datetime.now(timezone.utc)}
    request.update(change)
    if not request.get("Statistics"):
        request.pop("Statistics")
    with pytest.raises(ClientError) as info:
        cloudwatch.get_metric_statistics(**request)
    assert error_code(info) == code


@pytest.mark.parametrize("query, code", [
    ({"Id": "Upper"}, "InvalidParameterValue"),
    ({"Id": "a", "MetricStat": {"Metric": {"Namespace": "S", "MetricName": "M"},
                                "Period": 60, "Stat": "Median"}}, "InvalidParameterValue"),
    ({"Id": "a", "Expression": "SUM(METRICS())"}, "InvalidParameterValue"),
    ({"Id": "a"}, "InvalidParameterCombination"),
])
def test_bad_metric_data_queries(cloudwatch, query, code):
    query.setdefault("MetricStat", {"Metric": {"Namespace": "S", "MetricName": "M"},
                                    "Period": 60, "Stat": "Sum"}) \
        if "Expression" not in query and query != {"Id": "a"} else None
    with pytest.raises(ClientError) as info:
        cloudwatch.get_metric_data(MetricDataQueries=[query],
                                   StartTime=datetime.now(timezone.utc) - timedelta(minutes=5),
                                   EndTime=datetime.now(timezone.utc))
    assert error_code(info) == code


def test_bad_tokens_and_duplicate_ids(cloudwatch):
    stat = {"Metric": {"Namespace": "S", "MetricName": "M"}, "Period": 60, "Stat": "Sum"}
    window = {"StartTime": datetime.now(timezone.utc) - timedelta(minutes=5),
              "EndTime": datetime.now(timezone.utc)}
    with pytest.raises(ClientError) as info:
        cloudwatch.get_metric_data(MetricDataQueries=[{"Id": "a", "MetricStat": stat},
                                                      {"Id": "a", "MetricStat": stat}], **window)
    assert error_code(info) == "InvalidParameterValue"
    with pytest.raises(ClientError) as info:
        cloudwatch.get_metric_data(MetricDataQueries=[{"Id": "a", "MetricStat": stat}],
                                   NextToken="garbage", **window)
    assert error_code(info) == "InvalidNextToken"
    with pytest.raises(ClientError) as info:
        cloudwatch.list_metrics(NextToken="garbage")
    assert error_code(info) == "InvalidParameterValue"
