"""Per-tenant quotas: requests per minute, concurrent jobs, video seconds per day, budget per month.

``backend`` is the interface (``memory`` for one process, ``redis_lua`` for several replicas,
``failover`` wraps Redis with a fail-closed or fail-open policy); ``service`` is what the
stages, the job events and the usage face call.
"""
