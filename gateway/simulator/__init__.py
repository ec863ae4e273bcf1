"""A Sora-compatible upstream for development, demos and tests.

Profiles ``openai-2025-10``, ``openai-2026-03`` (OpenAI Videos API under ``/v1``) and
``azure-sora-1`` (Azure OpenAI Sora 1 preview jobs under ``/openai/v1``). Jobs move
through the real statuses as time passes, content is rendered with PyAV, and faults,
rate and concurrency limits are injected on request. See :mod:`gateway.simulator.server`.
"""

from gateway.simulator.config import SimulatorConfig

__all__ = ["SimulatorConfig"]
