"""docs/compatibility.md tells the truth about which operations are served."""

import re
from pathlib import Path

from nozama.api import catalog
from nozama.services import registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"


def test_every_ecs_operation_is_listed_with_the_status_it_has():
    rows = dict(re.findall(r"^\| (\w+) \| (done|partial|not yet) \|", DOC.read_text(), re.M))
    served = set(registry()["ecs"].operations)
    assert set(rows) >= set(catalog.service("ecs").model.operation_names)
    for operation, status in rows.items():
        assert (status != "not yet") == (operation in served), operation
