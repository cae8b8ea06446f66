"""The scheduler: which container instance runs each task."""
