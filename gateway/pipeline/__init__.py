"""Pipeline stages between a face and the upstream: auth, content policy, quota, cache, submit."""
