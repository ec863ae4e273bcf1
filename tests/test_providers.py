"""The provider catalog and the layers around it: one folder per provider, nothing below it imports it."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.providers import CATALOG, PROFILES, PROVIDERS
from tests.procs import Proc, start_simulator

GATEWAY = Path(__file__).resolve().parent.parent / "gateway"


def imported_modules(folder: Path) -> Iterator[tuple[Path, str]]:
    """(file, module) for every import in ``folder``, those under ``if TYPE_CHECKING`` and in functions too."""
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                yield path, node.module
            elif isinstance(node, ast.Import):
                yield from ((path, alias.name) for alias in node.names)


@pytest.mark.parametrize("layer", ["core", "upstreams", "simulator"])
def test_the_layers_below_the_providers_never_import_them(layer: str) -> None:
    found = [f"{p.name}: {m}" for p, m in imported_modules(GATEWAY / layer) if m.startswith("gateway.providers")]
    assert found == []


def test_a_provider_imports_no_other_provider() -> None:
    for provider in PROVIDERS:
        own = f"gateway.providers.{provider.name}"
        folder = GATEWAY / "providers" / provider.name
        others = [
            f"{p.name}: {m}"
            for p, m in imported_modules(folder)
            if m.startswith("gateway.providers.") and not m.startswith((own, "gateway.providers.base"))
        ]
        assert others == [], provider.name


def test_the_catalog_is_consistent() -> None:
    simulated = CATALOG.simulator_profiles()
    for provider in PROVIDERS:
        assert (GATEWAY / "providers" / provider.name / "__init__.py").exists()
        for name, caps in provider.profiles.items():
            assert caps.profile == name and caps.dialect == provider.dialect
            assert CATALOG.dialect_of(name) == provider.dialect
            assert simulated[name].caps is caps  # the gateway and the simulator read one table
            assert simulated[name].provider == provider.name
    assert list(PROFILES) == [name for p in PROVIDERS for name in p.profiles]
    assert CATALOG.dialect_of("default") is None  # records made before jobs named their profile
    with pytest.raises(
        ValueError,
        match="known: azure-sora-1, gemini-veo, kling, luma, luma-dream-machine, openai-2025-10, openai-2026-03",
    ):
        CATALOG.capabilities("openai-1999")
    baseline = [p.probe for p in PROVIDERS if p.probe_last]
    assert CATALOG.probes()[-len(baseline) :] == baseline  # a probe that concludes for any URL goes last


@pytest.fixture(scope="module")
def sim() -> Iterator[Proc]:
    proc = start_simulator(profile="openai-2025-10", time_scale=10)  # jobs stay queued for 100 s
    yield proc
    assert proc.stop() == 0, proc.logs()


def test_switching_provider_at_run_time_switches_the_whole_surface(sim: Proc) -> None:
    openai = {"Authorization": "Bearer sk-a"}
    azure = "/openai/v1/video/generations/jobs"
    video = httpx.post(sim.url + "/v1/videos", json={"prompt": "a kite"}, headers=openai).json()
    try:
        assert httpx.post(sim.url + "/_sim/profile", json={"profile": "azure-sora-1"}).status_code == 200
        job = httpx.post(
            sim.url + azure, params={"api-version": "preview"}, json={"prompt": "a boat"}, headers={"api-key": "sk-a"}
        )
        assert job.status_code == 200 and job.json()["status"] == "preprocessing"
        gone = httpx.get(f"{sim.url}/v1/videos/{video['id']}", headers=openai)
        assert gone.status_code == 404 and gone.json()["error"]["message"].startswith("Invalid URL")
        statuses = httpx.get(sim.url + "/_sim/stats").json()["statuses"]
        assert set(statuses) >= {"queued", "preprocessing"}  # each job counted in its own provider's words
    finally:
        httpx.post(sim.url + "/_sim/profile", json={"profile": "openai-2025-10"})
    back = httpx.get(f"{sim.url}/v1/videos/{video['id']}", headers=openai)
    assert back.status_code == 200 and back.json()["id"] == video["id"]
    wrong = httpx.post(sim.url + "/_sim/profile", json={"profile": "veo-3"})
    assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "profile"
