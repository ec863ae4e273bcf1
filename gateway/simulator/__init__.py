"""A Sora-compatible upstream for development, demos and tests (``sora-gateway simulator``).

Profiles (data in :mod:`.profiles`): ``openai-2025-10`` and ``openai-2026-03`` serve the
OpenAI Videos API under ``/v1`` (the latter adds extensions, edits, characters and the
``sora-2-2025-12-08`` model); ``azure-sora-1`` serves the Azure Sora 1 preview jobs API
under ``/openai/v1`` (``?api-version=preview`` required).

Behaviour worth knowing (all times are real seconds multiplied by ``--time-scale``):

- A job is queued for 10 s, then in progress for ``30 + 5*seconds`` s (sora-2-pro 2x;
  Azure ``n_variants=2`` 1.5x); status and progress are computed from the clock on read.
- ``openai-poll-after-ms`` = ``2000 * time_scale`` clamped to 50..10000 ms, on every
  response that carries a VideoResource.
- Content is rendered with PyAV on first download (in a thread) and cached in a temp dir:
  H.264 MP4 at 10 fps, long side 128 px, exactly ``seconds * 10`` frames; thumbnail WebP
  (Azure: JPEG), spritesheet JPEG (4 columns, up to 16 frames). Byte ranges give 206.
  It expires ``--content-ttl * time_scale`` s after completion (then 404 ``video_expired``).
- Errors are always ``{"error": {"message", "type", "param", "code"}}``. Codes used:
  ``invalid_value``, ``missing_required_parameter``, ``unknown_parameter``, ``invalid_json``,
  ``invalid_multipart``, ``moderation_blocked``, ``not_found`` (unknown id),
  ``video_not_ready`` / ``video_failed`` (content or source not usable), ``video_expired``,
  ``range_not_satisfiable`` (416), ``idempotency_key_reused`` (409), ``invalid_api_key``,
  ``rate_limit_exceeded`` / ``concurrency_limit_exceeded`` (429, type ``requests``),
  ``method_not_allowed`` (405); an unknown route (or one the profile lacks) is 404
  ``Invalid URL (METHOD /path)`` with code null, as the real API answers.
- ``--rpm`` counts create-like calls (create, remix, extend, edit, characters, Azure create)
  per API key in a sliding 60 s real-time window; ``--max-concurrent`` counts the key's
  queued + running jobs. Idempotent replays are never refused by the concurrency limit.
- Faults (:mod:`.faults`) hit API calls only, after auth and before any state change;
  ``reset`` aborts the TCP connection so no response byte is sent.
- The OpenAI profiles also answer ``POST /v1/moderations`` (moderation words flagged) and
  ``POST /v1/chat/completions`` deterministically (the last user message, less a leading
  ``Basic idea:``, plus fixed visual details): what prompt enhancement calls.
- ``/_sim/stats``, ``/_sim/reset`` (``?jobs=1`` also forgets jobs), ``/_sim/profile``,
  ``/_sim/faults``, ``/_sim/expire/{id}``: see :mod:`.ops`.
"""

from gateway.simulator.config import SimulatorConfig

__all__ = ["SimulatorConfig"]
