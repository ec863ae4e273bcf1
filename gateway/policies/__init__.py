"""Tenant and content-policy files (``policies/``): parsing, validation, hot reload."""
