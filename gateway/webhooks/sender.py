"""The delivery loop: one per replica, beside the job driver, never inside it.

Every ``tick_s`` it reads the outbox and starts an attempt for each delivery that is due and not
already being sent here. An attempt first takes the delivery's lease in the store (``webhook:<id>``,
longer than the send timeout), so across replicas one attempt runs at a time; a replica killed
mid-attempt simply lets the lease expire and another one retries with the same ``webhook-id``.
A receiver that times out, resets or answers non-2xx gets the delivery again after a backoff
(``retry_base_s`` doubling up to ``retry_max_s``, with jitter) until ``max_attempts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp
import httpx
from prometheus_client import Counter, Gauge, Histogram

from gateway import __version__
from gateway.observability import REGISTRY, P, log
from gateway.store.base import StoreError
from gateway.webhooks.outbox import Delivery, Outbox
from gateway.webhooks.pinning import delivery_client, pinned
from gateway.webhooks.signing import SecretError, sign
from gateway.webhooks.urls import CallbackGuard

DELIVERIES = Counter(
    P + "webhook_deliveries_total",
    "Webhook delivery attempts by outcome: sent (2xx), retry (will be tried again), failed (given up)",
    ["tenant", "event", "outcome"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    P + "webhook_delivery_duration_seconds",
    "Time from sending a webhook to the receiver's answer (or the error)",
    ["outcome"],
    registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PENDING = Gauge(
    P + "webhook_pending", "Deliveries in the outbox (not yet acknowledged)", registry=REGISTRY, multiprocess_mode="max"
)
LEASE_PREFIX = "webhook:"
USER_AGENT = f"sora-gateway-webhooks/{__version__}"
# what an attempt may raise on the way to the receiver (httpx-aiohttp maps most of aiohttp's errors, not all)
NETWORK_ERRORS: tuple[type[BaseException], ...] = (httpx.HTTPError, aiohttp.ClientError, asyncio.TimeoutError, OSError)


def backoff(attempts: int, base_s: float, max_s: float) -> float:
    return min(max_s, base_s * 2 ** max(0, attempts - 1)) * (0.8 + random.random() * 0.4)


def _where(url: str) -> str:
    """The URL without its query (which may carry a token) for logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class WebhookSender:
    def __init__(
        self,
        outbox: Outbox,
        guard: CallbackGuard,
        secret_of: Callable[[str], str | None],
        *,
        owner: str,
        timeout_s: float = 10.0,
        max_attempts: int = 15,
        retry_base_s: float = 5.0,
        retry_max_s: float = 3600.0,
        tick_s: float = 0.5,
        lease_ttl_s: float = 15.0,
        concurrency: int = 16,
    ) -> None:
        self.outbox = outbox
        self.store = outbox.store
        self.guard = guard
        self.secret_of = secret_of
        self.owner = owner
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self.tick_s = tick_s
        self.lease_ttl_s = max(lease_ttl_s, timeout_s + 5.0)
        self._sem = asyncio.Semaphore(concurrency)
        self._inflight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        outbox.wake = self._woken.set

    async def start(self) -> None:
        self._stopping.clear()
        self._client = delivery_client(self.timeout_s, {"user-agent": USER_AGENT})
        self._task = asyncio.create_task(self._loop(), name="webhook-sender")

    async def stop(self, grace_s: float = 5.0) -> None:
        self._stopping.set()
        self._woken.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, grace_s)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace_s)
        if self._client is not None:
            await self._client.aclose()

    def status(self) -> dict[str, object]:
        """For /readyz: the loop is alive (a receiver's trouble never makes the replica unready)."""
        alive = self._task is not None and not self._task.done()
        result: dict[str, object] = {"ok": alive, "sending": len(self._inflight)}
        if not alive:
            result["error"] = "the webhook delivery loop is not running"
        return result

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.tick()
            except StoreError:
                await asyncio.sleep(1.0)
            except Exception:  # the loop must outlive any bug
                log.exception("webhook_sender_loop_error")
                await asyncio.sleep(1.0)
            self._woken.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self.tick_s)

    async def tick(self) -> None:
        pending = await self.outbox.pending()
        PENDING.set(len(pending))
        now = time.time()
        for delivery in pending:
            if delivery.id in self._inflight or delivery.next_at > now:
                continue
            self._inflight.add(delivery.id)
            task = asyncio.create_task(self._attempt(delivery.id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _attempt(self, msg_id: str) -> None:
        lease = LEASE_PREFIX + msg_id
        try:
            async with self._sem:
                if not await self.store.acquire_lease(lease, self.owner, self.lease_ttl_s):
                    return  # another replica is sending it
                try:
                    delivery = await self.outbox.get(msg_id)  # fresh: it may have been sent meanwhile
                    if delivery is not None and delivery.next_at <= time.time():
                        await self.send(delivery)
                finally:
                    with contextlib.suppress(StoreError):
                        await self.store.release_lease(lease, self.owner)
        except StoreError:
            pass  # the outbox still has it; the next tick tries again
        except Exception:
            log.exception("webhook_attempt_error", delivery_id=msg_id)
        finally:
            self._inflight.discard(msg_id)

    async def send(self, delivery: Delivery) -> bool:
        """One attempt; True when the receiver acknowledged it. The outbox is updated either way."""
        assert self._client is not None, "start() first"
        delivery.attempts += 1
        started = time.monotonic()
        status: int | None = None
        vetted = await self.guard.vet(delivery.url)  # again: DNS may have changed since the create
        error: str | None = vetted if isinstance(vetted, str) else None
        if not isinstance(vetted, str):
            body = delivery.body.encode()
            stamp = int(time.time())
            headers = {"content-type": "application/json", "webhook-id": delivery.id, "webhook-timestamp": str(stamp)}
            secret = self.secret_of(delivery.tenant)
            try:
                if secret:
                    headers["webhook-signature"] = sign(secret, delivery.id, stamp, body)
                with pinned(vetted):  # connect to the addresses just vetted, not to a fresh DNS answer
                    response = await self._client.post(delivery.url, content=body, headers=headers)
                status = response.status_code
                if not 200 <= status < 300:
                    error = f"HTTP {status}"
            except (
                NETWORK_ERRORS
            ) as exc:  # httpx-aiohttp's name hides aiohttp's (a certificate error is ConnectTimeout)
                cause = exc.__cause__
                error = type(exc).__name__ + (f" ({type(cause).__name__})" if cause is not None else "")
            except SecretError as exc:
                error = f"tenant webhook secret: {exc}"
        latency = time.monotonic() - started
        if error is None:
            outcome = "sent"
            await self.outbox.done(delivery)
        elif delivery.attempts >= self.max_attempts:
            outcome = "failed"
            await self.outbox.drop(delivery)
        else:
            outcome = "retry"
            delivery.last_error = error
            delivery.next_at = time.time() + backoff(delivery.attempts, self.retry_base_s, self.retry_max_s)
            await self.outbox.save(delivery)
        DELIVERIES.labels(delivery.tenant, delivery.event, outcome).inc()
        LATENCY.labels(outcome).observe(latency)
        (log.error if outcome == "failed" else log.info)(
            "webhook_attempt",
            delivery_id=delivery.id,
            tenant=delivery.tenant,
            webhook_event=delivery.event,
            url=_where(delivery.url),
            attempt=delivery.attempts,
            status=status,
            error=error,
            outcome=outcome,
            latency_s=round(latency, 4),
            next_in_s=round(delivery.next_at - time.time(), 1) if outcome == "retry" else None,
        )
        return error is None
