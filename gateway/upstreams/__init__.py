"""Upstream adapters (one per dialect), capability detection and the runtime that holds them."""
