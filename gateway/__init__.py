"""sora-gateway: a version-adaptive, stateful reverse proxy in front of OpenAI's Sora video API."""

__version__ = "0.1.0"
