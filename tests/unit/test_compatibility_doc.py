"""docs/compatibility.md tells the truth about which operations are served."""

import re
from pathlib import Path

import pytest

from nozama.api import catalog
from nozama.aws import registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"
ROW = re.compile(r"^\| (\w+) \| (done|partial|not yet) \|", re.M)


def rows_of(service: str) -> dict[str, str]:
    """{operation: status} from the section whose heading names `service`, as "(`ecs`, ...)"."""
    for section in re.split(r"^## ", DOC.read_text(), flags=re.M):
        if f"(`{service}`," in section.split("\n", 1)[0]:
            return dict(ROW.findall(section))
    return {}


@pytest.mark.parametrize("service", ["ecs", "logs", "elbv2", "cloudwatch", "lambda", "acm"])
def test_every_operation_is_listed_with_the_status_it_has(service):
    rows = rows_of(service)
    served = set(registry()[service].operations)
    assert set(rows) >= set(catalog.service(service).model.operation_names)
    for operation, status in rows.items():
        assert (status != "not yet") == (operation in served), operation


def test_the_ec2_operations_served_are_listed():
    # EC2's model has hundreds of operations: its table lists those Nozama serves.
    rows = rows_of("ec2")
    assert set(rows) == set(registry()["ec2"].operations)
    assert "not yet" not in rows.values()
