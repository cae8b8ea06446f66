"""Helpers shared by the tests, one module per kind of thing (no fixtures here:
those live in tests/conftest.py, which builds them from these helpers).

- servers:     `nozama server` / `nozama lb` subprocesses and the store each one uses
- agents:      `nozama agent` subprocesses
- waiting:     wait_for, the one polling loop
- errors:      the AWS error code or message of a ClientError
- traffic:     requests and continuous load through the load balancer's data plane
- services:    a service, its running tasks, its steady state, as a test looks at them
- deployments: a service on simulated agents behind two listeners (traffic-shifted deployments)
- ecs_requests: Hypothesis strategies for ECS requests drawn from botocore's model
- fuzzing:     Hypothesis example counts (quick by default, full with HYPOTHESIS_PROFILE=full)
- scheduler:   InstanceState builders for the scheduler's unit tests
"""
