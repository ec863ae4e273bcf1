"""Wire a built :class:`~gateway.app.Context` into the metrics and the log scrubber.

* every public async method of the store counts its :class:`StoreError` s in
  ``sora_gateway_store_errors_total{store,operation}`` and keeps
  ``sora_gateway_store_up{store}`` current. The methods are wrapped on the
  instance, so the store keeps its type and attributes for whoever needs them;
* ``sora_gateway_tenant_quota_limit{tenant,limit}`` reads the policies in force;
* the upstream and admin keys are registered as secrets the logs must mask;
* every gateway module that defines metrics on ``REGISTRY`` is imported, so ``/metrics`` shows
  each family (HELP/TYPE) from the start, also those of modules otherwise imported lazily.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.observability import STORE_ERRORS, STORE_UP, TENANT_LIMITS, register_secret
from gateway.store.base import JobStore, StoreError

if TYPE_CHECKING:
    from gateway.app import Context
    from gateway.policies.loader import PolicySet


def store_kind(url: str) -> str:
    scheme = url.split(":", 1)[0].lower()
    return "redis" if scheme == "rediss" else scheme


def _wrap(method: Callable[..., Awaitable[Any]], kind: str, op: str) -> Callable[..., Awaitable[Any]]:
    errors = STORE_ERRORS.labels(kind, op)
    up = STORE_UP.labels(kind)

    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            result = await method(*args, **kwargs)
        except StoreError:
            errors.inc()
            up.set(0)
            raise
        up.set(1)
        return result

    call._sora_instrumented = True  # type: ignore[attr-defined]
    return call


def instrument_store(store: JobStore) -> JobStore:
    """Count failures of every public async method of ``store`` (in place; idempotent)."""
    kind = store_kind(store.url)
    STORE_UP.labels(kind).set(1)
    for name, _ in inspect.getmembers(type(store), inspect.iscoroutinefunction):
        if name.startswith("_") or name == "close":
            continue
        bound = getattr(store, name)
        if not getattr(bound, "_sora_instrumented", False):
            setattr(store, name, _wrap(bound, kind, name))
    return store


def quota_limits(policies: PolicySet) -> Iterator[tuple[str, str, float]]:
    for tenant in policies.tenants.values():
        quotas = tenant.quotas
        if not is_dataclass(quotas):
            continue
        for f in fields(quotas):
            value = getattr(quotas, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                yield tenant.name, f.name, float(value)


def import_metric_modules() -> list[str]:
    """Import every ``gateway`` module (the simulator aside) whose source registers on ``REGISTRY``."""
    root = Path(__file__).resolve().parent
    names = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        if "simulator" in rel.parts or "registry=REGISTRY" not in path.read_text(encoding="utf-8"):
            continue
        names.append(".".join(rel.parts))
        importlib.import_module(names[-1])
    return names


def instrument_context(ctx: Context) -> None:
    import_metric_modules()
    instrument_store(ctx.store)
    TENANT_LIMITS.source = lambda: quota_limits(ctx.policies.current())
    register_secret(ctx.settings.upstream_api_key)
    register_secret(ctx.settings.admin_key)
