"""The probes: numbers only (readiness, response time, memory); judging is the budgets' job."""
