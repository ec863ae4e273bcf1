"""The simulated OpenAI API, one :class:`SimProfile` per version: the same routes under ``/v1``, each
version's table deciding which of them exist (extensions, edits and characters only on ``openai-2026-03``).

The key is a bearer token; statuses are the engine's own words (queued, in_progress, completed,
failed); every VideoResource answer carries ``openai-poll-after-ms``. Refusals are
``{"error": {"message", "type", "param", "code"}}``; besides the engine's, the codes are
``moderation_blocked``, ``not_found`` (unknown id), ``video_not_ready`` / ``video_failed`` (content or
source not usable), ``video_expired``, ``invalid_api_key``; an unknown route (or one this version
lacks) is 404 ``Invalid URL (METHOD /path)`` with code null, as the real API answers. Every version
also answers ``POST /v1/moderations`` (moderation words flagged) and ``POST /v1/chat/completions``
deterministically (what prompt enhancement calls).
"""

from __future__ import annotations

from starlette.requests import Request

from gateway.providers.openai.sim_characters import ROUTES as CHARACTER_ROUTES
from gateway.providers.openai.sim_derived import ROUTES as DERIVED_ROUTES
from gateway.providers.openai.sim_misc import ROUTES as MISC_ROUTES
from gateway.providers.openai.sim_videos import ITEM_ROUTES, VIDEO_ROUTES
from gateway.providers.openai.table import PROFILES
from gateway.simulator.config import SimulatorConfig
from gateway.simulator.guard import bearer, no_key, wrong_key
from gateway.simulator.profile import one_per_version

OPS = (
    "create",
    "retrieve",
    "list",
    "delete",
    "content",
    "remix",
    "extend",
    "edit",
    "characters",
    "models",
    "moderations",
    "chat_completions",
)
# the item routes (/v1/videos/{video_id}) last: they would match /v1/videos/extensions too
ROUTES = (*MISC_ROUTES, *DERIVED_ROUTES, *CHARACTER_ROUTES, *VIDEO_ROUTES, *ITEM_ROUTES)


def auth(request: Request, config: SimulatorConfig) -> str:
    key = bearer(request)
    if not key:
        raise no_key()
    if not config.accepts(key):
        raise wrong_key(key)
    return key


SIM_PROFILES = one_per_version(PROFILES, "openai", "/v1", ROUTES, OPS, auth)
