"""The agent: one per container instance, running the tasks the control plane assigns."""
