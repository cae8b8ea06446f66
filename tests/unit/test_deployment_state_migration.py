"""Migration 0010: a store written before it (deployment state as "_" members of the
service document) comes out with the same state in its own column, and a deployment
in progress goes on from there."""

from __future__ import annotations


import pytest

from nozama.store import Store, sql
from support.migrations import downgrade_to
from support.service_harness import Balanced, Cloud


pytestmark = pytest.mark.store_matrix


def test_upgrading_moves_the_private_members_out_and_a_shift_goes_on(tmp_path, store_url):
    cloud = Cloud(tmp_path / "data", store_url)
    cloud.instances()
    balanced = Balanced(cloud)
    balanced.create({"strategy": "LINEAR", "linearConfiguration": {
        "stepPercent": 50.0, "stepBakeTimeInMinutes": 1}, "lifecycleHooks": [
        {"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"]}]})
    second = cloud.revision()
    cloud.ecs("UpdateService", service="web", taskDefinition=second)
    deployment = cloud.until(lambda: (d := cloud.deployment())["lifecycleHookDetails"] and d)
    cloud.ecs("ContinueServiceDeployment",
              serviceDeploymentArn=deployment["serviceDeploymentArn"],
              hookId=deployment["lifecycleHookDetails"][0]["hookId"])
    cloud.until(lambda: balanced.split() == (50, 50))
    with cloud.store.read() as conn:
        row = sql.one(conn, "SELECT * FROM services")
    doc, state = row.doc, row.deployment_state
    assert any(r.get("hooks") for r in state["rollouts"])
    cloud.store.close()

    # Back to the previous schema: the state is in the document again, as "_" members
    # (what the previous code wrote: the deployment's _arn, _stage, _hooks...).
    store = Store.open(store_url, migrate=False)
    downgrade_to(store, "0009")
    with store.read() as conn:
        old = sql.one(conn, "SELECT doc FROM services").doc
    primary = old["deployments"][0]
    assert primary["_stage"] and primary["_arn"] in old["_history"] and old["_revisions"]
    assert any(primary["_hooks"].values()) and all(
        "_stage" in hook for hook in primary["_hooks"].values())
    assert not any(k.startswith("_") for k in doc)
    store.migrate()
    with store.read() as conn:
        row = sql.one(conn, "SELECT * FROM services")
    assert row.doc == doc
    assert row.deployment_state == state
    store.close()

    # The control plane on the migrated store finishes the shift.
    cloud.open()
    assert cloud.deployment()["lifecycleStage"] == "PRODUCTION_TRAFFIC_SHIFT"
    cloud.until(lambda: balanced.split() == (0, 100), ticks=90)
    assert cloud.steady()["taskDefinition"] == second
    cloud.store.close()
