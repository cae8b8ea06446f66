"""Input validation against botocore's shape constraints."""

from nozama.api import catalog
from nozama.api.validate import summarize, validation_errors


def _input(service: str, operation: str):
    return catalog.service(service).model.operation_model(operation).input_shape


def test_missing_required_member():
    errors = validation_errors(_input("ecs", "DescribeTaskDefinition"), {})
    assert errors == ["Value null at 'taskDefinition' failed to satisfy constraint: "
                      "Member must not be null"]


def test_unknown_enum_value_lists_the_allowed_ones():
    errors = validation_errors(_input("ecs", "ListTaskDefinitions"), {"status": "GONE"})
    assert errors == ["Value 'GONE' at 'status' failed to satisfy constraint: Member must "
                      "satisfy enum value set: [ACTIVE, INACTIVE, DELETE_IN_PROGRESS]"]


def test_nested_paths_name_list_positions():
    shape = _input("ecs", "RegisterTaskDefinition")
    params = {"family": "f", "containerDefinitions": [{"name": "a"}, {"name": "b",
                                                                      "logConfiguration": {}}]}
    errors = validation_errors(shape, params)
    assert errors == ["Value null at 'containerDefinitions.2.member.logConfiguration.logDriver' "
                      "failed to satisfy constraint: Member must not be null"]


def test_lengths_and_ranges():
    shape = _input("ecs", "TagResource")
    params = {"resourceArn": "arn", "tags": [{"key": "", "value": "v" * 300}] * 51}
    errors = validation_errors(shape, params)
    assert "Value list at 'tags' failed to satisfy constraint: Member must have length less " \
           "than or equal to 50" in errors
    assert "Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must have " \
           "length greater than or equal to 1" in errors
    assert any("tags.1.member.value" in e and "less than or equal to 256" in e for e in errors)
    ranged = validation_errors(_input("logs", "GetLogEvents"),
                               {"logStreamName": "s", "limit": 0})
    assert ranged == ["Value '0' at 'limit' failed to satisfy constraint: Member must have value "
                      "greater than or equal to 1"]


def test_summary_counts_errors():
    assert summarize(["a"]) == "1 validation error detected: a"
    assert summarize(["a", "b"]) == "2 validation errors detected: a; b"


def test_valid_input_has_no_errors():
    assert validation_errors(_input("ecs", "CreateCluster"), {"clusterName": "web"}) == []
