"""Prompt enhancement is paid only for a create that runs (issue 21, item 6).

Enhancement's chat call is a paid upstream request: it happens after the rate limit, the cache and the quota,
so a create the quota refuses (or the cache answers) makes no chat call; the cache key holds the original
prompt and the enhancement flag. The chat calls are counted on the simulator's chat endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Stack, calls, start_gateway, write_policies
from tests.procs import start_simulator
from tests.test_workflows_e2e import wait_video

# acme may make 6 video seconds a day: one 4 s video, then the quota refuses
ACME = "quotas: {video_seconds_per_day: 6}\n"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("enhance-quota")
    sim = start_simulator()  # openai-2025-10: answers POST /v1/chat/completions
    gw = start_gateway(sim, tmp, "memory://", policies=write_policies(tmp / "policies", {"acme": ACME}))
    yield sim, gw
    gw.proc.stop()
    sim.stop()


def test_a_create_over_quota_makes_no_chat_call(stack: Stack) -> None:
    sim, gw = stack
    http = gw.http("acme")
    first = http.post("/v1/videos", json={"prompt": "a lighthouse in fog", "seconds": "4", "enhance_prompt": True})
    assert first.status_code == 200, first.text
    assert first.json()["enhanced_prompt"].startswith("a lighthouse in fog. ")
    assert wait_video(http, first.json()["id"])["status"] == "completed"
    chats = calls(sim, "chat_completions")
    for prompt in ("a red kite over hills", "a tram at night"):  # never rewritten before: a chat call each
        refused = http.post("/v1/videos", json={"prompt": prompt, "seconds": "4", "enhance_prompt": True})
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "video_seconds_per_day_exceeded"
    assert calls(sim, "chat_completions") == chats  # refused: no chat call paid for


def test_the_cache_key_holds_the_enhancement_flag(stack: Stack) -> None:
    sim, gw = stack
    http = gw.http("globex")
    plain = http.post("/v1/videos", json={"prompt": "a paper boat", "seconds": "4"})
    assert plain.status_code == 200, plain.text
    assert wait_video(http, plain.json()["id"])["status"] == "completed"
    chats = calls(sim, "chat_completions")
    body = {"prompt": "a paper boat", "seconds": "4", "enhance_prompt": True}
    enhanced = http.post("/v1/videos", json=body)
    assert enhanced.status_code == 200 and enhanced.headers["x-sora-gateway-cache"] == "miss", enhanced.text
    assert enhanced.json()["enhanced_prompt"].startswith("a paper boat. ")
    assert calls(sim, "chat_completions") == chats + 1
    assert wait_video(http, enhanced.json()["id"])["status"] == "completed"
    again = http.post("/v1/videos", json=body)  # a hit: no chat call, and it says what its origin was made from
    assert again.headers["x-sora-gateway-cache"] == "hit"
    assert again.json()["enhanced_prompt"] == enhanced.json()["enhanced_prompt"]
    assert "prompt->enhanced" in again.headers["x-sora-gateway-adapted"].split("; ")
    plain_again = http.post("/v1/videos", json={"prompt": "a paper boat", "seconds": "4"})
    assert plain_again.headers["x-sora-gateway-cache"] == "hit"
    assert plain_again.json()["id"] != again.json()["id"] and "enhanced_prompt" not in plain_again.json()
    assert calls(sim, "chat_completions") == chats + 1
