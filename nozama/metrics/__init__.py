"""Metrics: time series at 1-second resolution (rolled up to 60 s), the statistics
CloudWatch computes over them, alarms, and the Prometheus exposition."""
