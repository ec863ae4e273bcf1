"""PyAV and numpy, imported at their first use.

Together they are ~20 MiB of a gateway's memory; a replica that only answers polls and serves files never
needs them. ``from gateway.media.lazy import av`` gives a stand-in module whose first attribute read imports
the real one (``av.open``, ``av.VideoFrame``, ``av.AudioResampler``); type names are imported for the type
checker only.
"""

from __future__ import annotations

import importlib
import types
from typing import Any


class LazyModule(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module(self.__name__), name)


av: Any = LazyModule("av")
numpy: Any = LazyModule("numpy")
