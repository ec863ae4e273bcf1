"""The performance suite: the gateway, a bare-Starlette ceiling app and a canned nginx upstream, side by side.

    .venv/bin/python -m benchmarks.suite [--seconds 5] [--mb 8] [--jobs 200] [--window 20] [--gateway-src DIR]

One run, one fresh temporary directory (store, data, logs), every server pinned to one core
(``--server-cpu``, taskset) and the load generator (wrk) to the other (``--load-cpu``). Figures:

* poll: ``GET /v1/videos/{id}`` of a job in flight, requests/s at 16 connections and p50 at 1;
* create: ``POST /v1/videos`` at 16 connections, every prompt new (so the cache misses), through a team
  with quotas, a SQLite store (durable) and the canned upstream (one upstream create each);
* content: a retained ``--mb`` MiB file at 4 connections, MiB/s (nginx serves the very same file);
* upstream status calls: ``--jobs`` jobs in flight on the bundled simulator at real time, calls
  (retrieve + list) per second over ``--window`` seconds;
* RSS of the gateway: idle, after the poll runs, after the downloads.

Numbers swing with the machine's load; compare ratios within one run. ``--gateway-src DIR`` runs the
gateway from another checkout (e.g. ``git worktree add /tmp/main main``) for a before/after.
Nothing here is a test; nothing asserts on these numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks import load
from benchmarks.canned import CannedUpstream
from benchmarks.stack import KEY, UPSTREAM_KEY, free_port, rss_kib

REPO = Path(__file__).resolve().parent.parent
# The issue's run (same machine kind): Portkey 1.15.2 against the ceiling app of that run; scaled by our ceiling.
PORTKEY = {"poll_rps": 660.0, "create_rps": 401.0}
ISSUE_CEILING = {"poll_rps": 7947.0, "create_rps": 5084.0}
QUOTAS = "quotas: {requests_per_minute: 100000000, concurrent_jobs: 100000000, video_seconds_per_day: 1000000000, budget_usd_per_month: 1000000000}\n"  # noqa: E501


class Peak(threading.Thread):
    """The highest RSS of a process while in the ``with`` block."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stopped = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.05)

    def __enter__(self) -> Peak:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.join()


def wait_ready(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode})")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready at {url}")


class Suite:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.root = Path(tempfile.mkdtemp(prefix="sora-gw-suite-"))
        self.procs: list[subprocess.Popen[bytes]] = []
        self.src = Path(args.gateway_src).resolve() if args.gateway_src else REPO
        self.env = {**os.environ, "SORA_GATEWAY_UPSTREAM_API_KEY": UPSTREAM_KEY, "PYTHONPATH": str(self.src)}
        self.blob = self.root / "blob.mp4"
        self.canned: CannedUpstream | None = None
        self.gateway_port = free_port()

    # -- processes -----------------------------------------------------------------------------
    def spawn(
        self, args: list[str], name: str, cpu: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        """``cwd``: the gateway runs from its source tree (``python -m`` puts the working directory first)."""
        log = open(self.root / f"{name}.log", "ab")
        proc = subprocess.Popen(
            ["taskset", "-c", cpu, *args], stdout=log, stderr=log, env=env or self.env, cwd=str(cwd or REPO)
        )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        if self.canned is not None:
            self.canned.stop()
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()

    def make_blob(self) -> None:
        block = os.urandom(1 << 20)
        with open(self.blob, "wb") as fh:
            for i in range(self.args.mb):
                fh.write(block[i % 251 :] + block[: i % 251])

    def start_ceiling(self) -> tuple[str, int]:
        port = free_port()
        args = [sys.executable, "-m", "uvicorn", "benchmarks.ceiling:app", "--port", str(port)]
        args += ["--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning"]
        proc = self.spawn(args, "ceiling", self.args.server_cpu, {**self.env, "BENCH_BLOB": str(self.blob)})
        url = f"http://127.0.0.1:{port}"
        wait_ready(url + "/v1/videos/x", proc, "ceiling app")
        return url, proc.pid

    def write_gateway_files(self, name: str) -> tuple[Path, Path, Path]:
        base = self.root / name
        tenants = base / "policies" / "tenants"
        tenants.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(KEY.encode()).hexdigest()
        (tenants / "bench.yaml").write_text(f'tenant: bench\napi_keys: ["sha256:{digest}"]\n{QUOTAS}')
        lines = [*self.args.gateway_config, *(["content_accel_redirect: /_sora_content/"] if self.args.accel else [])]
        extra = "".join(f"{line}\n" for line in lines)
        (base / "gateway.yaml").write_text("detect_interval_s: 0\n" + extra)
        return base, base / "policies", base / "data"

    def start_gateway(
        self, upstream: str, name: str, *, profile: str | None, port: int | None = None
    ) -> tuple[str, int]:
        base, policies, data = self.write_gateway_files(name)
        port = port or free_port()
        args = [sys.executable, "-m", "gateway", "serve", "--port", str(port), "--upstream", upstream]
        args += ["--store", f"sqlite:///{base / 'gw.db'}", "--policies", str(policies), "--data-dir", str(data)]
        args += ["--config", str(base / "gateway.yaml")]
        if profile:
            args += ["--upstream-profile", profile]
        proc = self.spawn(args, name, self.args.server_cpu, cwd=self.src)
        url = f"http://127.0.0.1:{port}"
        wait_ready(url + "/healthz", proc, "gateway")
        return url, proc.pid

    def seed_finished(self, name: str) -> str:
        """A completed job with the blob as its retained video, written before the gateway starts."""
        from gateway.content import LocalContentStore
        from gateway.core.ids import new_video_id
        from gateway.core.models import Job, Segment, SegStatus, Status
        from gateway.store.sqlite import SqliteStore

        base, _, data = self.write_gateway_files(name)
        now = int(time.time())
        job = Job(
            id=new_video_id(),
            tenant="bench",
            model="sora-2",
            prompt="seeded for the content benchmark",
            size="720x1280",
            seconds="4",
            status=Status.COMPLETED,
            progress=100,
            completed_at=now,
            expires_at=now + 86400,
            upstream="openai-2025-10",
            segments=[Segment(0, 4, "seeded", upstream_id="video_seeded", status=SegStatus.COMPLETED, progress=100)],
        )
        copy = self.root / "blob-copy.mp4"
        shutil.copyfile(self.blob, copy)

        async def write() -> None:
            await LocalContentStore(data / "content").adopt(job.id, "video", copy)
            store = SqliteStore(base / "gw.db")
            await store.put(job)
            await store.close()

        asyncio.run(write())
        return job.id

    # -- figures -------------------------------------------------------------------------------
    def figures(self, base: str, poll_id: str, content_id: str, key: str | None, pids: list[int]) -> dict[str, Any]:
        a, cpu = self.args, self.args.load_cpu
        poll_url, content_url = f"{base}/v1/videos/{poll_id}", f"{base}/v1/videos/{content_id}/content"
        load.run(poll_url, connections=4, seconds=1, cpu=cpu, key=key)  # warm
        poll16 = load.run(poll_url, connections=16, seconds=a.seconds, cpu=cpu, key=key, pids=pids)
        poll1 = load.run(poll_url, connections=1, seconds=a.seconds, cpu=cpu, key=key)
        create_url = f"{base}/v1/videos"
        create = load.run(create_url, connections=16, seconds=a.seconds, cpu=cpu, key=key, create=True, pids=pids)
        content = load.run(content_url, connections=4, seconds=a.seconds, cpu=cpu, key=key, pids=pids)
        return {
            "poll_cpu_us": poll16.cpu_us,
            "create_cpu_us": create.cpu_us,
            "content_cpu_us": content.cpu_us,
            "poll_rps": poll16.rps,
            "poll_p50_ms": poll1.p50_ms,
            "create_rps": create.rps,
            "create_errors": create.errors,
            "content_mb_s": content.mb_s,
            "polls": poll16.requests + poll1.requests,
            "downloads": content.requests,
            "tool": poll16.tool,
        }

    def gateway_figures(self, upstream: str, canned: CannedUpstream | None) -> dict[str, Any]:
        a, cpu = self.args, self.args.load_cpu
        content_id = self.seed_finished("gateway")
        base, pid = self.start_gateway(upstream, "gateway", profile="openai-2025-10", port=self.gateway_port)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as http:
            created = http.post("/v1/videos", json={"prompt": "the job polled", "seconds": "4"})
            created.raise_for_status()
            poll_id = created.json()["id"]
            for _ in range(200):
                http.get(f"/v1/videos/{poll_id}")
        time.sleep(1)
        idle = rss_kib(pid)
        poll_url = f"{base}/v1/videos/{poll_id}"
        load.run(poll_url, connections=4, seconds=1, cpu=cpu, key=KEY)
        with Peak(pid) as polling:
            poll16 = load.run(poll_url, connections=16, seconds=a.seconds, cpu=cpu, key=KEY, pids=[pid])
            poll1 = load.run(poll_url, connections=1, seconds=a.seconds, cpu=cpu, key=KEY)
        after_polls = rss_kib(pid)
        with Peak(pid) as downloading:
            content_url = f"{base}/v1/videos/{content_id}/content"
            content = load.run(content_url, connections=4, seconds=a.seconds, cpu=cpu, key=KEY, pids=[pid])
        after_downloads = rss_kib(pid)
        accel = None
        if self.args.accel and canned is not None and canned.front:
            front_url = f"http://127.0.0.1:{canned.front[0]}/v1/videos/{content_id}/content"
            accel = load.run(front_url, connections=4, seconds=a.seconds, cpu=cpu, key=KEY).mb_s
        upstream_before = canned.calls() if canned else 0
        create_url = f"{base}/v1/videos"
        create = load.run(create_url, connections=16, seconds=a.seconds, cpu=cpu, key=KEY, create=True, pids=[pid])
        upstream_creates = (canned.calls() - upstream_before) if canned else 0
        per_create = upstream_creates / create.requests if upstream_creates and create.requests else None
        return {
            "poll_cpu_us": poll16.cpu_us,
            "create_cpu_us": create.cpu_us,
            "content_cpu_us": content.cpu_us,
            "poll_rps": poll16.rps,
            "poll_p50_ms": poll1.p50_ms,
            "create_rps": create.rps,
            "create_errors": create.errors,
            "content_mb_s": content.mb_s,
            "content_accel_mb_s": accel,
            "polls": poll16.requests + poll1.requests,
            "downloads": content.requests,
            "tool": poll16.tool,
            "rss_idle_mib": idle / 1024,
            "rss_after_polls_mib": after_polls / 1024,
            "rss_peak_polls_mib": polling.peak / 1024,
            "rss_after_downloads_mib": after_downloads / 1024,
            "rss_peak_downloads_mib": downloading.peak / 1024,
            "upstream_calls_per_create": per_create,
        }

    def status_calls(self) -> dict[str, Any]:
        """``--jobs`` jobs in flight on the simulator at real time: upstream status calls per second."""
        a = self.args
        port = free_port()
        sim = self.spawn(
            [sys.executable, "-m", "gateway", "simulator", "--port", str(port), "--time-scale", "1"],
            "simulator",
            a.load_cpu,
            cwd=self.src,
        )
        sim_url = f"http://127.0.0.1:{port}"
        wait_ready(sim_url + "/_sim/stats", sim, "simulator")
        base, _ = self.start_gateway(sim_url + "/v1", "gateway-calls", profile=None)

        def status() -> int:
            calls = httpx.get(sim_url + "/_sim/stats", timeout=10).json()["calls"]
            return int(calls.get("retrieve", 0)) + int(calls.get("list", 0))

        async def create_all() -> None:
            gate = asyncio.Semaphore(4)
            headers = {"Authorization": f"Bearer {KEY}"}
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as http:

                async def one(i: int) -> None:
                    async with gate:
                        r = await http.post("/v1/videos", json={"prompt": f"in flight {i}", "seconds": "4"})
                        r.raise_for_status()

                await asyncio.gather(*(one(i) for i in range(a.jobs)))

        asyncio.run(create_all())
        time.sleep(1.5)
        before, started = status(), time.monotonic()
        time.sleep(a.window)
        made, elapsed = status() - before, time.monotonic() - started
        return {"jobs": a.jobs, "window_s": round(elapsed, 1), "status_calls": made, "per_s": made / elapsed}

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        a = self.args
        self.make_blob()
        results: dict[str, Any] = {
            "gateway_src": str(self.src),
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": subprocess.run(
                ["git", "-C", str(self.src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
            ).stdout.strip(),
            "cpus": os.cpu_count(),
            "load_avg": os.getloadavg()[0],
            "settings": vars(a),
        }
        canned: CannedUpstream | None = None
        if CannedUpstream.available():
            content_dir = self.root / "gateway" / "data" / "content"
            front = (free_port(), self.gateway_port, content_dir) if a.accel else None
            canned = CannedUpstream(self.root, self.blob, free_port(), free_port(), front)
            self.canned = canned.start(a.server_cpu)
            nginx = f"http://127.0.0.1:{canned.bench_port}"
            assert canned.proc is not None
            results["nginx"] = self.figures(nginx, "video_x", "video_x", None, [canned.proc.pid])
            upstream = f"http://127.0.0.1:{canned.upstream_port}/v1"
        else:
            port = free_port()
            sim = self.spawn(
                [sys.executable, "-m", "gateway", "simulator", "--port", str(port), "--time-scale", "100"],
                "simulator-canned",
                a.load_cpu,
            )
            wait_ready(f"http://127.0.0.1:{port}/_sim/stats", sim, "simulator")
            upstream = f"http://127.0.0.1:{port}/v1"
        ceiling, ceiling_pid = self.start_ceiling()
        results["ceiling"] = self.figures(ceiling, "video_x", "video_x", None, [ceiling_pid])
        results["gateway"] = self.gateway_figures(upstream, canned)
        if not a.skip_calls:
            results["status_calls"] = self.status_calls()
        return results


def ratios(r: dict[str, Any]) -> dict[str, Any]:
    gw, ceil = r["gateway"], r["ceiling"]
    out = {
        "poll_vs_ceiling": gw["poll_rps"] / ceil["poll_rps"],
        "poll_vs_portkey_scaled": gw["poll_rps"] / (PORTKEY["poll_rps"] * ceil["poll_rps"] / ISSUE_CEILING["poll_rps"]),
        "p50_over_ceiling_ms": gw["poll_p50_ms"] - ceil["poll_p50_ms"],
        "create_vs_portkey_scaled": gw["create_rps"]
        / (PORTKEY["create_rps"] * ceil["create_rps"] / ISSUE_CEILING["create_rps"]),
    }
    if "nginx" in r:
        out["content_vs_nginx"] = gw["content_mb_s"] / r["nginx"]["content_mb_s"]
    # per CPU-second of the server (what a whole core would do): robust when other work shares the core
    for fig in ("poll", "create", "content"):
        if gw.get(f"{fig}_cpu_us") and ceil.get(f"{fig}_cpu_us"):
            out[f"{fig}_cpu_vs_ceiling"] = ceil[f"{fig}_cpu_us"] / gw[f"{fig}_cpu_us"]
    if gw.get("create_cpu_us") and ceil.get("create_cpu_us"):
        portkey = PORTKEY["create_rps"] / ISSUE_CEILING["create_rps"] * (1e6 / ceil["create_cpu_us"])
        out["create_per_cpu_vs_portkey_scaled"] = (1e6 / gw["create_cpu_us"]) / portkey
    if gw.get("poll_cpu_us") and ceil.get("poll_cpu_us"):
        portkey = PORTKEY["poll_rps"] / ISSUE_CEILING["poll_rps"] * (1e6 / ceil["poll_cpu_us"])
        out["poll_per_cpu_vs_portkey_scaled"] = (1e6 / gw["poll_cpu_us"]) / portkey
    return out


def table(r: dict[str, Any]) -> str:
    rows = [("canned upstream (nginx)", r.get("nginx")), ("bare Starlette (ceiling)", r["ceiling"])]
    rows.append(("sora-gateway", r["gateway"]))
    lines = [
        f"Run {r['date']}, commit {r['commit'] or r['gateway_src']}, load average {r['load_avg']:.1f},"
        f" tool {r['gateway']['tool']}, gateway config {r['settings']['gateway_config'] or 'defaults'}",
        "",
        "| server | poll rps (c16) | poll p50 (c1) | create rps (c16) | content MiB/s (c4) |",
        "|---|---|---|---|---|",
    ]
    for name, f in rows:
        if f:
            lines.append(
                f"| {name} | {f['poll_rps']:,.0f} | {f['poll_p50_ms'] * 1000:,.0f} us | {f['create_rps']:,.0f} "
                f"| {f['content_mb_s']:,.0f} |"
            )
    lines += ["", "| server | CPU per poll | CPU per create | CPU per download |", "|---|---|---|---|"]
    for name, f in rows:
        if f and f.get("poll_cpu_us"):
            cells = " | ".join(f"{f[k]:,.0f} us" for k in ("poll_cpu_us", "create_cpu_us", "content_cpu_us"))
            lines.append(f"| {name} | {cells} |")
    q, gw = ratios(r), r["gateway"]
    lines += [
        "",
        f"- poll: {q['poll_vs_ceiling']:.0%} of the ceiling's rps; {q['poll_vs_portkey_scaled']:.1f}x Portkey (scaled);"
        f" p50 {q['p50_over_ceiling_ms']:+.2f} ms over the ceiling's",
        f"- create: {q['create_vs_portkey_scaled']:.2f}x Portkey (scaled); errors {gw['create_errors']};"
        f" upstream calls per create {gw['upstream_calls_per_create']}",
    ]
    if "poll_cpu_vs_ceiling" in q:
        lines.append(
            f"- per CPU-second: polls {q['poll_cpu_vs_ceiling']:.0%} of the ceiling's"
            f" ({q['poll_per_cpu_vs_portkey_scaled']:.1f}x Portkey scaled), creates"
            f" {q['create_per_cpu_vs_portkey_scaled']:.2f}x Portkey (scaled)"
        )
    if "content_vs_nginx" in q:
        lines.append(f"- content: {q['content_vs_nginx']:.0%} of nginx serving the same file")
    if gw.get("content_accel_mb_s"):
        share = f" = {gw['content_accel_mb_s'] / r['nginx']['content_mb_s']:.0%} of nginx" if "nginx" in r else ""
        lines.append(f"- content behind nginx with X-Accel-Redirect: {gw['content_accel_mb_s']:,.0f} MiB/s{share}")
    lines.append(
        f"- gateway RSS: idle {gw['rss_idle_mib']:.1f} MiB; after {gw['polls']:,} polls {gw['rss_after_polls_mib']:.1f}"
        f" (peak {gw['rss_peak_polls_mib']:.1f}); after {gw['downloads']:,} downloads"
        f" {gw['rss_after_downloads_mib']:.1f} (peak {gw['rss_peak_downloads_mib']:.1f})"
    )
    if "status_calls" in r:
        s = r["status_calls"]
        lines.append(
            f"- upstream status calls with {s['jobs']} jobs in flight: {s['status_calls']} in {s['window_s']} s"
            f" = {s['per_s']:.2f}/s"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each load run")
    parser.add_argument("--mb", type=int, default=8, help="size of the downloaded file, MiB")
    parser.add_argument("--jobs", type=int, default=200, help="jobs in flight for the status-call count")
    parser.add_argument("--window", type=float, default=20.0, help="seconds the status calls are counted")
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--load-cpu", default="1")
    parser.add_argument("--gateway-src", default=None, help="run the gateway from this checkout instead")
    parser.add_argument(
        "--gateway-config", action="append", default=[], help="a line for the gateway's config file (repeatable)"
    )
    parser.add_argument("--accel", action="store_true", help="also download through nginx with X-Accel-Redirect")
    parser.add_argument("--skip-calls", action="store_true", help="skip the status-call count")
    parser.add_argument("--json", default=None, help="also write the raw figures here")
    args = parser.parse_args()
    if not shutil.which("taskset"):
        sys.exit("benchmarks.suite needs taskset (util-linux)")
    suite = Suite(args)
    try:
        results = suite.run()
    finally:
        suite.stop_all()
    results["ratios"] = ratios(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    print(table(results))
    shutil.rmtree(suite.root, ignore_errors=True)


if __name__ == "__main__":
    main()
