"""Function deployment plans (the seed's parameters, CodeDeploy's configurations) and the
health verdict of a step."""

import pytest

from nozama.functions.deploy import (CODEDEPLOY_CONFIGS, PlanError, StepHealth,
                                     codedeploy_plan, describe, percentage, plan, verdict)


def test_linear_grows_in_equal_steps_and_the_last_one_ends_the_shift():
    linear = plan("linear", steps=10, interval=120)
    assert linear.weights == (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    assert linear.bakes == (120.0,) * 9 + (0.0,)


def test_canary_is_its_share_for_the_interval_then_everything():
    canary = plan("canary", interval=300, percent=5)
    assert canary.weights == (0.05, 1.0)
    assert canary.bakes == (300.0, 0.0)


def test_all_at_once_shifts_everything_then_watches_for_the_interval():
    assert plan("all-at-once", interval=60).weights == (1.0,)
    assert plan("all-at-once", interval=60).bakes == (60.0,)
    assert plan("all-at-once", health_checks=False).bakes == (0.0,)


@pytest.mark.parametrize("name,weights,bake", [
    ("LambdaCanary10Percent5Minutes", (0.1, 1.0), 300),
    ("LambdaCanary10Percent30Minutes", (0.1, 1.0), 1800),
    ("LambdaLinear10PercentEvery1Minute", tuple(i / 10 for i in range(1, 11)), 60),
    ("LambdaLinear10PercentEvery10Minutes", tuple(i / 10 for i in range(1, 11)), 600),
])
def test_codedeploy_configurations_by_name(name, weights, bake):
    chosen = codedeploy_plan(name)
    assert chosen.weights == pytest.approx(weights)
    assert chosen.bakes[0] == bake


def test_every_predefined_configuration_makes_a_plan_ending_at_100_percent():
    assert len(CODEDEPLOY_CONFIGS) == 9
    for name in CODEDEPLOY_CONFIGS:
        assert codedeploy_plan(name, health_checks=False).weights[-1] == 1.0


# ------------------------------------------------------- defaults that check every step

def test_without_an_interval_each_type_bakes_as_codedeploys_default_for_it():
    # A bare deploy is LambdaLinear10PercentEvery1Minute, not ten unchecked steps.
    assert plan("linear") == codedeploy_plan("LambdaLinear10PercentEvery1Minute")
    assert plan("linear").bakes[:-1] == (60.0,) * 9
    # The repro: a canary of 0.1% without --interval bakes 5 minutes at 0.1%.
    canary = plan("canary", percent=0.1)
    assert canary.weights == (0.001, 1.0) and canary.bakes == (300.0, 0.0)
    assert plan("canary") == codedeploy_plan("LambdaCanary10Percent5Minutes")


def test_every_step_but_the_one_that_ends_the_shift_is_judged():
    for chosen in (plan("linear"), plan("canary", percent=0.1),
                   plan("all-at-once", interval=30), codedeploy_plan(
                       "LambdaCanary10Percent30Minutes")):
        judged = [chosen.judged(i) for i in range(len(chosen.weights))]
        assert all(judged[:-1]) and all(b > 0 for b, j in zip(chosen.bakes, judged) if j)
    assert plan("all-at-once", interval=30).judged(0)
    assert not plan("linear", interval=0, health_checks=False).judged(0)


@pytest.mark.parametrize("make,words", [
    (lambda: plan("all-at-once"), "--interval SECONDS"),
    (lambda: plan("all-at-once"), "--no-health-checks"),
    (lambda: plan("linear", interval=0), "--no-health-checks"),
    (lambda: plan("canary", percent=0.1, interval=0), "--no-health-checks"),
    (lambda: plan("all-at-once", interval=0), "--no-health-checks"),
    (lambda: codedeploy_plan("LambdaAllAtOnce"), "--no-health-checks"),
])
def test_an_unchecked_plan_is_refused_unless_health_checks_are_off(make, words):
    with pytest.raises(PlanError) as refused:
        make()
    assert words in str(refused.value)


def test_health_checks_off_allows_an_interval_of_0_and_says_so():
    unchecked = plan("linear", steps=2, interval=0, health_checks=False)
    assert unchecked.bakes == (0.0, 0.0) and not unchecked.health_checks
    assert describe(unchecked) == ("linear: 50% of traffic, then 100%; health checks are "
                                   "off: no step is judged")
    assert codedeploy_plan("LambdaAllAtOnce", health_checks=False).bakes == (0.0,)


def test_percentages_keep_their_precision_and_their_unit():
    assert percentage(0.001) == "0.1%" and percentage(0.3333) == "33.33%"
    assert percentage(0.1) == "10%" and percentage(1.0) == "100%"
    assert percentage(plan("canary", percent=0.0001).weights[0]) == "0.0001%"
    assert describe(plan("canary", percent=0.1)) == "canary: 0.1% of traffic for 300 s, then 100%"
    assert describe(plan("all-at-once", interval=30)) == "all-at-once: 100% for 30 s"


@pytest.mark.parametrize("make", [
    lambda: plan("blue-green"),
    lambda: plan("linear", steps=0),
    lambda: plan("linear", steps=101),
    lambda: plan("linear", interval=-1),
    lambda: plan("canary", percent=0),
    lambda: plan("canary", percent=100),
    lambda: plan("canary", percent=1e-9),
    lambda: codedeploy_plan("LambdaCanary50Percent1Minute"),
])
def test_parameters_that_make_no_plan_say_why(make):
    with pytest.raises(PlanError):
        make()


def test_errors_and_alarms_fail_a_step_at_once():
    assert verdict(StepHealth(10, 1), "2", False, False) == "Version 2 had 1 errors"
    assert "HighErrors" in verdict(StepHealth(10, 0, ("HighErrors",)), "2", False, True)


def test_a_step_without_invocations_is_not_healthy_unless_allowed():
    assert verdict(StepHealth(0, 0), "2", False, False) is None   # still baking
    assert "not invoked" in verdict(StepHealth(0, 0), "2", True, False)
    assert verdict(StepHealth(0, 0), "2", True, True) is None
    assert verdict(StepHealth(5, 0), "2", True, False) is None
