"""Shared fixtures: a real simulator, real gateways, tenant files, official SDK clients."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from openai import OpenAI

from gateway.pipeline.auth import hash_key
from gateway.store.base import JobStore
from gateway.store.memory import MemoryStore
from gateway.store.redis_store import RedisStore
from gateway.store.sqlite import SqliteStore
from tests.procs import REDIS_URL, Proc, free_port, require_redis, start_simulator
from tests.s3server import S3Server, start_s3_server

UPSTREAM_KEY = "sk-upstream-SECRET-0123456789abcdef"
KEYS = {"acme": "sk-acme-test-key-0001", "globex": "sk-globex-test-key-0002"}

FAST_CONFIG = """\
poll_min_s: 0.05
sweep_interval_s: 0.05
driver_tick_s: 0.05
lease_ttl_s: 2
shutdown_grace_s: 3
detect_interval_s: 0
"""


def write_policies(root: Path, extra: dict[str, str] | None = None) -> Path:
    tenants = root / "tenants"
    tenants.mkdir(parents=True, exist_ok=True)
    for name, key in KEYS.items():
        body = f'tenant: {name}\napi_keys: ["{hash_key(key)}"]\n'
        body += (extra or {}).get(name, "")
        (tenants / f"{name}.yaml").write_text(body)
    return root


def write_tenants(root: Path, tenants: dict[str, str], key_of: Callable[[str], str]) -> Path:
    """``write_policies`` plus one file per extra tenant: its key is ``key_of(name)``, its body the YAML given."""
    write_policies(root)
    for name, body in tenants.items():
        text = f'tenant: {name}\napi_keys: ["{hash_key(key_of(name))}"]\n{body}'
        (root / "tenants" / f"{name}.yaml").write_text(text)
    return root


@dataclass
class Gateway:
    proc: Proc
    store: str
    data_dir: Path

    @property
    def url(self) -> str:
        return self.proc.url

    def client(self, tenant: str = "acme", **kw: object) -> OpenAI:
        return OpenAI(base_url=self.url + "/v1", api_key=KEYS[tenant], max_retries=0, **kw)  # type: ignore[arg-type]

    def http(self, tenant: str | None = "acme") -> httpx.Client:
        headers = {"Authorization": f"Bearer {KEYS[tenant]}"} if tenant else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def start_gateway(
    upstream: Proc,
    tmp: Path,
    store: str,
    *extra: str,
    config: str = FAST_CONFIG,
    port: int | None = None,
    policies: Path | None = None,
    env: dict[str, str] | None = None,
    wrap: list[str] | None = None,
) -> Gateway:
    tmp.mkdir(parents=True, exist_ok=True)
    policies = policies or write_policies(tmp / "policies")
    (tmp / "gateway.yaml").write_text(config)
    data_dir = tmp / "data"
    args = [
        "serve",
        "--port",
        str(port or free_port()),
        "--upstream",
        upstream.url + "/v1",
        "--store",
        store,
        "--policies",
        str(policies),
        "--data-dir",
        str(data_dir),
        "--config",
        str(tmp / "gateway.yaml"),
        *extra,
    ]
    proc = Proc(args, int(args[2]), env={"SORA_GATEWAY_UPSTREAM_API_KEY": UPSTREAM_KEY, **(env or {})}, wrap=wrap or [])
    proc.log_path = tmp / f"gateway-{proc.port}.log"
    return Gateway(proc.start(), store, data_dir)


Stack = tuple[Proc, Gateway]


def store_url(kind: str, tmp: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'gw.db'}"
    if kind == "redis":
        require_redis()
        return f"{REDIS_URL}?prefix=sgtest-{uuid.uuid4().hex[:8]}"
    return "memory://"


@pytest.fixture(scope="module")
def simulator() -> Iterator[Proc]:
    sim = start_simulator()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def simulator_2026() -> Iterator[Proc]:
    sim = start_simulator(profile="openai-2026-03")
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Stack]]:
    """One simulator + gateway per profile, started on first use and shared by the module."""
    started: dict[str, Stack] = {}

    def get(profile: str) -> Stack:
        if profile not in started:
            sim = start_simulator(profile=profile)
            started[profile] = (sim, start_gateway(sim, tmp_path_factory.mktemp(profile), "memory://"))
        return started[profile]

    yield get
    for sim, gw in started.values():
        gw.proc.stop()
        sim.stop()
        assert UPSTREAM_KEY not in gw.proc.logs()


def sim_stats(sim: Proc) -> dict[str, object]:
    return dict(httpx.get(sim.url + "/_sim/stats", timeout=10).json())


def calls(sim: Proc, operation: str) -> int:
    return int(dict(sim_stats(sim)["calls"]).get(operation, 0))  # type: ignore[arg-type]


# -- one JobStore per backend, for the store and driver unit tests --------------------------


async def drop_redis_prefix(prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    for pattern in ("{" + prefix + "}:*", prefix + ":*"):
        keys = [key async for key in client.scan_iter(match=pattern)]
        if keys:
            await client.delete(*keys)
    await client.aclose()


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[JobStore]:
    prefix = f"test-{uuid.uuid4().hex}"
    if request.param == "memory":
        backend: JobStore = MemoryStore()
    elif request.param == "sqlite":
        backend = SqliteStore(tmp_path / "nested" / "gateway.db")
    else:
        require_redis()
        backend = RedisStore(REDIS_URL, prefix=prefix)
    yield backend
    await backend.close()
    if request.param == "redis":
        await drop_redis_prefix(prefix)


# -- a real S3-compatible server (moto's server mode) for the s3:// content store -----------


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = start_s3_server()
    yield server
    server.stop()
