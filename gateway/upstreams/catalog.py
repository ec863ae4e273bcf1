"""What the upstream machinery needs to know of the providers, handed in rather than imported.

``upstreams/`` routes, guards, detects and holds adapters for any provider; which providers exist,
what each version can do and how to speak to it is the provider catalog's (``gateway.providers``),
which the app passes in. Nothing here names a provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateway.core.capabilities import Capabilities
from gateway.upstreams.base import Upstream
from gateway.upstreams.detect import Probe


class Catalog(Protocol):
    default_profile: str  # the profile assumed until detection says otherwise

    def capabilities(self, profile: str) -> Capabilities:
        """The table row of ``profile``; ``ValueError`` naming the known ones for any other name."""
        ...

    def dialect_of(self, name: str) -> str | None:
        """The dialect of a profile, or ``name`` itself when it is a dialect; ``None`` for anything else."""
        ...

    def adapter(self, dialect: str, base_url: str, api_key: str) -> Upstream:
        """A new adapter speaking ``dialect`` to ``base_url``."""
        ...

    def probes(self) -> Sequence[Probe]:
        """Every provider's detection probe, in the order they are to be tried."""
        ...
