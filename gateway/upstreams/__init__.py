"""What every provider shares: the adapter protocol, the pooled HTTP client, circuit breakers,
routing over several upstreams, detection's orchestrator and the runtime that holds the adapters.
Which providers exist comes in as a :class:`~gateway.upstreams.catalog.Catalog` (``gateway.providers``)."""
