"""``GET /v1/models``, ``POST /v1/moderations`` and ``POST /v1/chat/completions`` of every OpenAI version.

The chat completion is deterministic (no model behind it): the last user message, stripped of a
leading ``Basic idea:``, comes back expanded with a fixed set of visual details, so the same input
always gives the same "enhanced prompt" and a test can tell it reached the video upstream.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.providers.openai.sim_fields import model_names
from gateway.providers.openai.table import MODEL_CREATED
from gateway.simulator.bodies import read_body
from gateway.simulator.errors import SimError, missing
from gateway.simulator.fields import flagged
from gateway.simulator.guard import guard, sim_of

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


async def list_models(request: Request) -> Response:
    await guard(request, "models")
    names = model_names(sim_of(request).profile.caps)
    data = [
        {"id": name, "object": "model", "created": MODEL_CREATED.get(name, 0), "owned_by": "system"} for name in names
    ]
    return JSONResponse({"object": "list", "data": data})


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
    await guard(request, "moderations")
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


ENHANCE_DETAILS = (
    "Shot on a slow dolly with soft natural light",
    "rich textures and a clear subject in the foreground",
    "smooth, physically plausible motion and a stable camera",
)


def enhance_text(idea: str) -> str:
    """What the simulated chat model answers for a prompt-expansion request: the idea plus fixed details."""
    idea = idea.strip()
    if idea.lower().startswith("basic idea:"):
        idea = idea[len("basic idea:") :].strip()
    return f"{idea.rstrip('.')}. {ENHANCE_DETAILS[0]}, {ENHANCE_DETAILS[1]}; {ENHANCE_DETAILS[2]}."


def _last_user_text(messages: Any) -> str:
    if not isinstance(messages, list) or not messages:
        raise SimError(400, "Invalid 'messages': expected a non-empty array.", param="messages", code="invalid_value")
    for message in reversed(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            message_error = "Invalid 'messages': each needs a role and a string content."
            raise SimError(400, message_error, param="messages", code="invalid_value")
        if message.get("role") == "user":
            return str(message["content"])
    raise SimError(400, "Invalid 'messages': no user message.", param="messages", code="invalid_value")


async def chat_completions(request: Request) -> Response:
    await guard(request, "chat_completions")
    body = await read_body(request, allow_form=False)
    body.only(("model", "messages", "temperature", "max_tokens", "max_completion_tokens", "n", "seed", "user"))
    model = body.fields.get("model")
    if not isinstance(model, str) or not model:
        raise missing("model")
    text = enhance_text(_last_user_text(body.fields.get("messages")))
    digest = hashlib.sha256(text.encode()).hexdigest()[:24]
    return JSONResponse(
        {
            "id": "chatcmpl-" + digest,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": len(text.split()), "total_tokens": len(text.split())},
        }
    )


ROUTES = [
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/moderations", moderations, methods=["POST"]),
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
]
