"""``GET /v1/models`` and ``POST /v1/moderations`` of the OpenAI profiles."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.simulator.bodies import read_body
from gateway.simulator.errors import SimError, missing
from gateway.simulator.guard import guard, sim_of
from gateway.simulator.profiles import MODEL_CREATED, Profile
from gateway.simulator.validate import flagged

MODERATION_MODEL = "omni-moderation-latest"
MODERATION_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
FLAGGED_CATEGORIES = frozenset({"violence", "violence/graphic"})


def model_list(profile: Profile, owned_by: str = "system") -> dict[str, Any]:
    data = [
        {"id": name, "object": "model", "created": MODEL_CREATED.get(name, 0), "owned_by": owned_by}
        for name in profile.model_ids()
    ]
    return {"object": "list", "data": data}


async def list_models(request: Request) -> Response:
    await guard(request, "models", dialect="openai")
    return JSONResponse(model_list(sim_of(request).profile))


def _result(words: tuple[str, ...], text: str) -> dict[str, Any]:
    hit = flagged(words, text)
    categories = {c: hit and c in FLAGGED_CATEGORIES for c in MODERATION_CATEGORIES}
    scores = {c: (0.93 if categories[c] else 0.0004) for c in MODERATION_CATEGORIES}
    return {
        "flagged": hit,
        "categories": categories,
        "category_scores": scores,
        "category_applied_input_types": {c: ["text"] for c in MODERATION_CATEGORIES},
    }


async def moderations(request: Request) -> Response:
    await guard(request, "moderations", dialect="openai", feature="moderations")
    state = sim_of(request)
    body = await read_body(request, allow_form=False)
    body.only(("input", "model"))
    value = body.fields.get("input")
    if value is None:
        raise missing("input")
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise SimError(
            400, "Invalid 'input': expected a string or an array of strings.", param="input", code="invalid_value"
        )
    return JSONResponse(
        {
            "id": "modr-" + secrets.token_hex(12),
            "model": MODERATION_MODEL,
            "results": [_result(state.config.moderation_words, t) for t in texts],
        }
    )


ROUTES = [
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/moderations", moderations, methods=["POST"]),
]
