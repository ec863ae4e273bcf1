"""Which adapter speaks which dialect."""

from __future__ import annotations

from collections.abc import Callable

from gateway.upstreams.azure_sora1 import AzureSora1Upstream
from gateway.upstreams.base import Upstream
from gateway.upstreams.openai_videos import OpenAIVideosUpstream

ADAPTERS: dict[str, Callable[[str, str], Upstream]] = {
    "openai": OpenAIVideosUpstream,
    "azure": AzureSora1Upstream,
}


def make_adapter(dialect: str, base_url: str, api_key: str) -> Upstream:
    try:
        factory = ADAPTERS[dialect]
    except KeyError:
        raise ValueError(f"no adapter for upstream dialect {dialect!r}; known: {', '.join(ADAPTERS)}") from None
    return factory(base_url, api_key)
