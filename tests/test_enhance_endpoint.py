"""Prompt enhancement with a chat endpoint of its own (issue 22, item 13) and on stories (issue 21, item 13b).

The live providers behind the face have no ``/chat/completions``: ``enhance_url`` / ``enhance_api_key_env`` /
``enhance_model`` name an OpenAI-compatible one. Here the upstream is Azure Sora 1 (no chat) and the chat
endpoint a second simulator that accepts one key only: enhancement works through it, its key is sent and never
logged, a wrong key falls back saying so, and bad settings stop the start naming the setting. A story with
``enhance_prompt`` has each scene's prompt rewritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from gateway.config import ConfigError, build_settings
from gateway.providers.openai.sim_misc import ENHANCE_DETAILS
from tests.conftest import FAST_CONFIG, UPSTREAM_KEY, Stack, calls, start_gateway
from tests.procs import Proc, start_simulator

CHAT_KEY = "sk-chat-endpoint-key-0123456789"


@pytest.fixture(scope="module")
def chat() -> Iterator[Proc]:
    sim = start_simulator("--api-key", CHAT_KEY)  # answers POST /v1/chat/completions for this key only
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def azure() -> Iterator[Proc]:
    sim = start_simulator(profile="azure-sora-1")
    yield sim
    sim.stop()


def enhance_config(chat: Proc) -> str:
    return (
        FAST_CONFIG + f"enhance_url: {chat.url}/v1\nenhance_api_key_env: TEST_ENHANCE_KEY\nenhance_model: tiny-chat\n"
    )


def test_enhancement_asks_its_own_chat_endpoint(chat: Proc, azure: Proc, tmp_path: Path) -> None:
    gw = start_gateway(azure, tmp_path, "memory://", config=enhance_config(chat), env={"TEST_ENHANCE_KEY": CHAT_KEY})
    try:
        before = calls(chat, "chat_completions")
        response = gw.http().post("/v1/videos", json={"prompt": "a quiet forest", "enhance_prompt": True})
        assert response.status_code == 200, response.text
        assert "prompt->enhanced" in response.headers["x-sora-gateway-adapted"].split("; ")
        video = response.json()
        assert (
            video["enhanced_prompt"].startswith("a quiet forest. ") and ENHANCE_DETAILS[0] in video["enhanced_prompt"]
        )
        assert calls(chat, "chat_completions") == before + 1
        assert calls(azure, "chat_completions") == 0  # the upstream (no chat) was not asked
        logs = gw.proc.logs()
    finally:
        gw.proc.stop()
    assert CHAT_KEY not in logs and UPSTREAM_KEY not in logs


def test_a_refused_key_falls_back_to_the_original_prompt_saying_why(chat: Proc, azure: Proc, tmp_path: Path) -> None:
    gw = start_gateway(
        azure, tmp_path, "memory://", config=enhance_config(chat), env={"TEST_ENHANCE_KEY": "sk-wrong-0"}
    )
    try:
        response = gw.http().post("/v1/videos", json={"prompt": "a windy moor", "enhance_prompt": True})
        assert response.status_code == 200, response.text
        assert "prompt->enhanced(failed: upstream_401; original used)" in response.headers["x-sora-gateway-adapted"]
        assert "enhanced_prompt" not in response.json()
    finally:
        gw.proc.stop()


def test_enhancement_settings_are_checked_at_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SORA_GATEWAY_UPSTREAM_API_KEY", "sk-up")
    monkeypatch.delenv("TEST_ENHANCE_UNSET", raising=False)
    monkeypatch.setenv("TEST_ENHANCE_SET", "sk-chat")
    cases = [
        ({"enhance_api_key_env": "TEST_ENHANCE_SET"}, "enhance_api_key_env needs enhance_url"),
        ({"enhance_url": "https://chat.example/v1", "enhance_api_key_env": "TEST_ENHANCE_UNSET"}, "is not set"),
        ({"enhance_url": "https://chat.example/v1", "enhance_api_key_env": "not a name"}, "must name"),
        ({"enhance_url": "chat.example/v1"}, "enhance_url must be an http(s) URL such as https://api.openai.com/v1"),
    ]
    for flags, reason in cases:
        with pytest.raises(ConfigError) as err:
            build_settings(flags)
        assert reason in str(err.value), (flags, err.value)
    good = build_settings({"enhance_url": "https://chat.example/v1", "enhance_api_key_env": "TEST_ENHANCE_SET"})
    assert (good.enhance_url, good.enhance_api_key_env) == ("https://chat.example/v1", "TEST_ENHANCE_SET")
    config = tmp_path / "gw.yaml"
    config.write_text("enhance_url: https://chat.example/v1\nenhance_api_key_env: TEST_ENHANCE_UNSET\n")
    with pytest.raises(ConfigError) as err:
        build_settings({"config": str(config)})
    assert str(err.value).startswith(f"{config}:2: enhance_api_key_env TEST_ENHANCE_UNSET is not set")


# -- stories ---------------------------------------------------------------------------------------------------------
def test_a_story_with_enhance_prompt_rewrites_each_scene(stacks: Callable[[str], Stack]) -> None:
    sim, gw = stacks("openai-2025-10")
    scenes = [{"prompt": "A lantern glows in a tent", "seconds": 4}, {"prompt": "The tent opens at dawn", "seconds": 4}]
    before = calls(sim, "chat_completions")
    response = gw.http().post("/v1/gateway/stories", json={"scenes": scenes, "enhance_prompt": True})
    assert response.status_code == 200, response.text
    assert "prompt->enhanced" in response.headers["x-sora-gateway-adapted"].split("; ")
    story = response.json()
    lines = story["enhanced_prompt"].split("\n")
    assert [line.split(": ", 1)[0] for line in lines] == ["Scene 1", "Scene 2"]
    for line, scene in zip(lines, scenes, strict=True):
        assert line.split(": ", 1)[1].startswith(scene["prompt"] + ". ") and ENHANCE_DETAILS[0] in line
    assert calls(sim, "chat_completions") == before + 2
    auth = {"Authorization": f"Bearer {UPSTREAM_KEY}"}
    sent = [str(v.get("prompt")) for v in httpx.get(sim.url + "/v1/videos?limit=100", headers=auth).json()["data"]]
    first_scene = lines[0].split(": ", 1)[1]
    assert any(p.startswith(first_scene) for p in sent), sent  # the rewrite is what was generated
    plain = gw.http().post("/v1/gateway/stories", json={"scenes": scenes[:1]})
    assert "enhanced_prompt" not in plain.json() and "prompt->enhanced" not in plain.json()["adapted"]
