"""Detection by host (issue 19, item 3): ``profile`` may be left out of an ``upstreams:`` entry whose URL is a
provider's public API host; an unknown public host without one stops the start at its file:line; local URLs
(the simulator's) keep live detection."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import ConfigError, build_settings
from gateway.providers import CATALOG, PROVIDERS
from gateway.upstream_setup import router_from_settings
from gateway.upstreams.hosts import UnknownHost, profile_for_url
from tests.conftest import FAST_CONFIG, UPSTREAM_KEY, start_gateway
from tests.procs import start_simulator

PUBLIC = [
    ("https://api.minimax.io", "minimax-hailuo"),
    ("https://api.minimaxi.com/v1", "minimax-hailuo"),
    ("https://dashscope-intl.aliyuncs.com/api/v1", "dashscope-wan"),
    ("https://dashscope.aliyuncs.com", "dashscope-wan"),
    ("https://ws-1234.cn-beijing.maas.aliyuncs.com/api/v1", "dashscope-wan"),
    ("https://ark.ap-southeast.bytepluses.com/api/v3", "ark-seedance"),
    ("https://API.LumaLabs.ai/dream-machine/v1", "luma-dream-machine"),
    ("https://agents.lumalabs.ai/v1", "luma"),
    ("https://generativelanguage.googleapis.com/v1beta", "gemini-veo"),
    ("https://api.dev.runwayml.com", "runway"),
    ("https://api-singapore.klingai.com", "kling"),
    ("https://api.klingai.com", "kling"),
]
LOCAL = [
    "http://127.0.0.1:9000/v1",
    "http://localhost:9000",
    "http://[::1]:9000/v1",
    "http://10.0.0.7/v1",
    "http://simulator:9000/v1",  # a compose service
    "http://sim.internal/v1",
    "http://first.example/v1",
]


@pytest.mark.parametrize(("url", "profile"), PUBLIC)
def test_a_providers_public_host_names_its_profile(url: str, profile: str) -> None:
    assert profile_for_url(url, CATALOG.host_entries()) == profile


@pytest.mark.parametrize("url", [*LOCAL, "https://api.openai.com/v1", "https://res.openai.azure.com/openai/v1"])
def test_local_hosts_and_providers_with_a_probe_are_detected_live(url: str) -> None:
    assert profile_for_url(url, CATALOG.host_entries()) is None


@pytest.mark.parametrize("url", ["https://api.minimax.oi", "https://video.example.com/v1", "http://8.8.8.8/v1"])
def test_an_unknown_public_host_is_refused(url: str) -> None:
    with pytest.raises(UnknownHost, match="profile:"):
        profile_for_url(url, CATALOG.host_entries())


def test_every_provider_without_a_probe_lists_its_hosts() -> None:
    for provider in PROVIDERS:
        assert provider.hosts, provider.name
        assert all("/" not in h and h == h.lower() for h in provider.hosts)


def settings_from(tmp_path: Path, text: str) -> object:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return build_settings({"config": str(path)})


def test_an_entry_without_profile_on_a_provider_host_is_pinned_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MM_KEY", "mm-key-0000000000")
    monkeypatch.setenv("WAN_KEY", "sk-wan-0000000000")
    monkeypatch.setenv("SIM_KEY", "sk-sim-0000000000")
    text = (
        "upstreams:\n"
        "  - {url: https://api.minimax.io, api_key_env: MM_KEY}\n"
        "  - url: https://dashscope-intl.aliyuncs.com\n"
        "    api_key_env: WAN_KEY\n"
        "  - {url: http://127.0.0.1:9000/v1, api_key_env: SIM_KEY}\n"
        "  - {url: https://api.minimax.io/v1, api_key_env: MM_KEY, profile: luma}\n"  # named: as named
    )
    settings = settings_from(tmp_path, text)
    found = [entry.get("profile") for entry in settings.upstreams]  # type: ignore[attr-defined]
    assert found == ["minimax-hailuo", "dashscope-wan", None, "luma"]
    router = router_from_settings(settings)  # type: ignore[arg-type]
    assert [r.pinned for r in router.routes] == ["minimax-hailuo", "dashscope-wan", None, "luma"]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("upstreams:\n  - {url: https://api.minimax.oi/v1, api_key_env: MM_KEY}\n", 2),
        ("port: 8080\nupstreams:\n  - api_key_env: MM_KEY\n    url: https://videos.example.com/v1\n", 4),
    ],
)
def test_an_unknown_public_host_without_profile_names_the_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, line: int
) -> None:
    monkeypatch.setenv("MM_KEY", "mm-key-0000000000")
    with pytest.raises(ConfigError) as raised:
        settings_from(tmp_path, text)
    message = str(raised.value)
    assert f"{tmp_path / 'gateway.yaml'}:{line}: " in message, message
    assert "upstreams[0]" in message and "profile:" in message and "minimax-hailuo" in message
    assert "mm-key" not in message


def test_the_gateway_does_not_start_on_an_unknown_public_host(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text("upstreams:\n  - url: https://sora.example.com/v1\n    api_key_env: SOME_KEY\n")
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--policies", str(tmp_path), "--config", str(config)],
        env={**os.environ, "SOME_KEY": "sk-some-000000000"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2, result.stderr
    assert f"{config}:2:" in result.stderr and "sora.example.com" in result.stderr


def test_a_local_url_without_profile_is_still_detected_live(tmp_path: Path) -> None:
    sim = start_simulator(profile="azure-sora-1")
    config = FAST_CONFIG + f"upstreams:\n  - {{url: {sim.url}/openai/v1, api_key_env: LOCAL_SIM_KEY}}\n"
    gw = start_gateway(sim, tmp_path, "memory://", config=config, env={"LOCAL_SIM_KEY": UPSTREAM_KEY})
    try:
        upstream = gw.http().get("/readyz").json()["checks"]["upstream"]
        route = upstream["routes"][0] if "routes" in upstream else upstream
        assert route["profile"] == "azure-sora-1" and not route["pinned"], upstream
    finally:
        gw.proc.stop()
        sim.stop()
