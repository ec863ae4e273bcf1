"""A provider-neutral upstream simulator for development, demos and tests (``sora-gateway simulator``).

The engine (this package) keeps what every simulated provider shares; each provider folder
(``gateway/providers/<name>/sim_*.py``) brings one :class:`~gateway.simulator.profile.SimProfile`
per version: its routes, validation, status words, error envelope, auth and table. The command
hands the engine the catalog's profiles; ``/_sim/profile`` switches between them at run time.

Behaviour worth knowing (all times are real seconds multiplied by ``--time-scale``):

- A job is queued for 10 s, then in progress for ``30 + 5*seconds`` s (times the model's slowdown;
  each extra variant adds half); status and progress are computed from the clock on read.
- A poll hint of ``2000 * time_scale`` ms clamped to 50..10000 ms (a profile sends it as its
  provider does).
- Content is rendered with PyAV on first download (in a thread) and cached in a temp dir:
  H.264 MP4 at 10 fps, long side 128 px unless a profile asks for real sizes, exactly
  ``seconds * 10`` frames; thumbnail WebP or JPEG, spritesheet JPEG (4 columns, up to 16
  frames). Byte ranges give 206. It expires ``--content-ttl * time_scale`` s after completion.
- The engine's own refusals (body parsing, field checks, ``idempotency_key_reused`` 409,
  ``range_not_satisfiable`` 416, ``rate_limit_exceeded`` / ``concurrency_limit_exceeded`` 429
  with type ``requests``, ``method_not_allowed`` 405, faults) are :class:`~.errors.SimError` s,
  which the current profile renders in its provider's envelope; an unknown route (or one the
  current version lacks) is answered the way the profile says.
- ``--rpm`` counts create-like calls per API key in a sliding 60 s real-time window;
  ``--max-concurrent`` counts the key's queued + running jobs. Idempotent replays are never
  refused by the concurrency limit.
- Faults (:mod:`.faults`) hit API calls only, after auth and before any state change;
  ``reset`` aborts the TCP connection so no response byte is sent.
- ``/_sim/stats``, ``/_sim/reset`` (``?jobs=1`` also forgets jobs), ``/_sim/profile``,
  ``/_sim/faults``, ``/_sim/expire/{id}``: see :mod:`.ops`.
"""

from gateway.simulator.config import SimulatorConfig

__all__ = ["SimulatorConfig"]
