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


@pytest.mark.parametrize("service", ["ecs", "logs", "elbv2", "cloudwatch", "lambda", "acm",
                                     "sts", "ecr"])
def test_every_operation_is_listed_with_the_status_it_has(service):
    rows = rows_of(service)
    served = set(registry()[service].operations)
    assert set(rows) >= set(catalog.service(service).model.operation_names)
    for operation, status in rows.items():
        assert (status != "not yet") == (operation in served), operation


@pytest.mark.parametrize("service", ["ec2", "iam"])
def test_the_operations_served_are_listed(service):
    # EC2's and IAM's models have hundreds of operations: their tables list those served.
    rows = rows_of(service)
    assert set(rows) == set(registry()[service].operations)
    assert "not yet" not in rows.values()
