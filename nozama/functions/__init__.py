"""Functions: deployment packages, the Lambda Runtime API, warm worker pools,
alias routing and the invocations that tie them together."""
