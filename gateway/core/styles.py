"""Style presets: a name a client may send as ``style_preset``, and the prompt clause it becomes.

Built-in presets are below; an operator's ``styles.yaml`` (``name: description`` pairs) adds to or
replaces them. The file is re-read when it changes, so new presets need no restart.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import yaml

from gateway.yamlfile import YamlError, line_of, top_mapping

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_DESCRIPTION = 500

DEFAULT_STYLES: dict[str, str] = {
    "cinematic": "cinematic film look, anamorphic widescreen framing, shallow depth of field, dramatic lighting",
    "animation": "3D animated feature look, soft global illumination, expressive stylised characters",
    "documentary": "documentary footage, natural light, handheld camera, observational framing",
    "watercolor": "watercolor painting in motion, soft bleeding pigments, visible paper texture",
    "film-noir": "black-and-white film noir, hard low-key lighting, deep shadows, 1940s atmosphere",
    "anime": "Japanese anime style, clean line art, cel shading, vivid colours",
    "8mm": "vintage 8mm home movie, film grain, light leaks, slightly faded colours, gentle gate weave",
    "photorealistic": "photorealistic, natural colours, true-to-life detail",
    "claymation": "stop-motion claymation, handmade clay figures, tactile textures, slight frame stutter",
    "timelapse": "time-lapse photography, accelerated motion of clouds, light and people",
}


class StyleError(ValueError):
    """A styles file that cannot be used, with ``file:line`` in the message."""


def parse_styles(text: str, where: str) -> dict[str, str]:
    try:
        found = top_mapping(text, "a mapping of preset name: description")
    except YamlError as exc:
        raise StyleError(f"{where}:{exc.line}: {exc.reason}") from None
    styles: dict[str, str] = {}
    for key, node in found.values():
        line = line_of(key)
        name = str(key.value).strip().lower()
        if not NAME.match(name):
            raise StyleError(f"{where}:{line}: {key.value!r} is not a preset name (a-z, 0-9, '-', '_')")
        if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
            raise StyleError(f"{where}:{line}: the description of {name!r} must be a non-empty string")
        if len(str(node.value)) > MAX_DESCRIPTION:
            raise StyleError(f"{where}:{line}: the description of {name!r} is over {MAX_DESCRIPTION} characters")
        styles[name] = " ".join(str(node.value).split())
    return styles


class StyleBook:
    """The presets in force: built-ins overlaid by ``path`` (when it exists), reloaded on change."""

    def __init__(self, path: str | Path | None = None, *, required: bool = False) -> None:
        self.path = Path(path) if path else None
        self.required = required
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._styles: dict[str, str] = dict(DEFAULT_STYLES)
        self.error: str | None = None
        self.refresh()

    def refresh(self) -> None:
        """Re-read the file if it changed; a broken edit keeps the last good presets (and sets ``error``)."""
        if self.path is None:
            return
        try:
            stat = os.stat(self.path)
        except OSError:
            if self.required:
                raise StyleError(f"{self.path}:1: styles file not found") from None
            self._styles, self._stamp, self.error = dict(DEFAULT_STYLES), None, None
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        with self._lock:
            try:
                loaded = parse_styles(self.path.read_text(encoding="utf-8"), str(self.path))
            except StyleError as exc:
                if self._stamp is None and self.required:
                    raise
                self.error = str(exc)
                return
            self._styles = {**DEFAULT_STYLES, **loaded}
            self._stamp, self.error = stamp, None

    def names(self) -> list[str]:
        self.refresh()
        return sorted(self._styles)

    def get(self, name: str) -> str | None:
        self.refresh()
        return self._styles.get(name.strip().lower())
