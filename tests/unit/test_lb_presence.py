"""A load balancer nobody serves says so: its State (provisioning until a data plane
serves it, then active) and the control plane's warning, under a fake clock."""

from __future__ import annotations

import logging

import pytest

from nozama.controllers.data_plane_watch import DataPlaneWatch
from nozama.model import lb_presence
from nozama.store import load_balancers as lb_store
from support.networks import default_subnets
from support.service_harness import REGION, Cloud


@pytest.fixture
def cloud(tmp_path):
    found = Cloud(tmp_path / "data")
    yield found
    found.store.close()


def create(cloud: Cloud, name: str = "web") -> dict:
    return cloud.elb("CreateLoadBalancer", Name=name, Subnets=default_subnets(REGION))[
        "LoadBalancers"][0]


def state(cloud: Cloud, name: str = "web") -> dict:
    return cloud.elb("DescribeLoadBalancers", Names=[name])["LoadBalancers"][0]["State"]


def serve(cloud: Cloud, *arns: str) -> None:
    """What the data plane's heartbeat writes."""
    with cloud.store.write() as conn:
        lb_store.mark_served(conn, list(arns), cloud.clock.now())


def test_a_load_balancer_is_provisioning_until_a_data_plane_serves_it(cloud):
    created = create(cloud)
    assert created["State"] == {"Code": "provisioning", "Reason": lb_presence.NOT_SERVED}
    assert "nozama lb" in created["State"]["Reason"]
    cloud.clock.advance(60)
    assert state(cloud)["Code"] == "provisioning"
    serve(cloud, created["LoadBalancerArn"])
    assert state(cloud) == {"Code": "active"}
    # Creating it again answers with what it is now.
    assert create(cloud)["State"] == {"Code": "active"}
    cloud.clock.advance(lb_presence.SERVED_WITHIN)
    assert state(cloud) == {"Code": "active"}
    # Its data plane went silent: nobody serves it any more, and it says so.
    cloud.clock.advance(1)
    assert state(cloud)["Code"] == "provisioning"


def test_each_load_balancer_has_its_own_state(cloud):
    served = create(cloud, "served")
    create(cloud, "other")
    serve(cloud, served["LoadBalancerArn"])
    described = {lb["LoadBalancerName"]: lb["State"]["Code"] for lb in
                 cloud.elb("DescribeLoadBalancers")["LoadBalancers"]}
    assert described == {"served": "active", "other": "provisioning"}


def test_the_server_warns_once_when_no_data_plane_serves_its_load_balancers(cloud, caplog):
    watch = DataPlaneWatch(cloud.store, cloud.clock)
    caplog.set_level(logging.INFO, "nozama.controllers.data_plane_watch")
    cloud.clock.advance(2 * lb_presence.WARN_AFTER)
    assert watch.check() is None  # no load balancer: nothing to serve
    arn = create(cloud)["LoadBalancerArn"]
    cloud.clock.advance(lb_presence.WARN_AFTER)
    assert watch.check() is None  # not yet: it was created WARN_AFTER ago
    cloud.clock.advance(1)
    warning = watch.check()
    assert warning.startswith("1 load balancer(s) exist but no load balancer data plane has "
                              f"served them for {lb_presence.WARN_AFTER + 1:.0f} s")
    assert "Run `nozama lb`" in warning
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    cloud.clock.advance(60)
    assert watch.check() is None  # said once, not at every check
    serve(cloud, arn)
    assert "again" in watch.check()
    cloud.clock.advance(lb_presence.WARN_AFTER + 1)
    assert watch.check().startswith("1 load balancer(s) exist")  # silent again


def test_a_control_plane_that_just_started_waits_before_warning(cloud):
    arn = create(cloud)["LoadBalancerArn"]
    serve(cloud, arn)
    cloud.clock.advance(3600)  # served an hour ago, before this server started
    watch = DataPlaneWatch(cloud.store, cloud.clock)
    cloud.clock.advance(lb_presence.WARN_AFTER - 1)
    assert watch.check() is None  # `nozama up` starts its data plane beside the server
    cloud.clock.advance(2)
    assert watch.check() is not None
