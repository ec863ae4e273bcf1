"""deploy/ is consistent with the gateway it deploys (no Docker engine here: validated structurally).

Every file parses; the Dockerfile, compose and Kubernetes commands parse with the real CLI; every
``SORA_GATEWAY_*`` variable they set is one the gateway reads and lands in its settings; mounted
files exist and sit where the settings point; ports, probes, service names and selectors agree;
the Dockerfile's command and health check run for real against a gateway started the same way.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.cli import build_parser
from gateway.config import Settings, load_file
from gateway.policies.loader import load_policies
from gateway.server import settings_from_args
from tests.conftest import UPSTREAM_KEY, write_policies
from tests.procs import Proc, free_port

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SPECIAL_ENV = {"SORA_GATEWAY_UPSTREAM_API_KEY": "upstream_api_key", "SORA_GATEWAY_ADMIN_KEY": "admin_key"}


# -- helpers -------------------------------------------------------------------


def subcommands() -> dict[str, Any]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return dict(action.choices)


def serve_env_vars() -> dict[str, str]:
    """``SORA_GATEWAY_<FLAG>`` -> flag dest, for every flag of ``serve`` and every setting, plus the key variables."""
    serve = subcommands()["serve"]
    found = {"SORA_GATEWAY_" + a.dest.upper(): a.dest for a in serve._actions if a.option_strings and a.dest != "help"}
    settings = {"SORA_GATEWAY_" + name.upper(): name for name in vars(Settings())}  # every setting reads one too
    return {**settings, **found, **SPECIAL_ENV}


def settings_for(argv: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """What ``sora-gateway <argv>`` builds from ``env`` (the CLI reads its env defaults at parse time)."""
    for name in list(os.environ):
        if name.startswith("SORA_GATEWAY_") or name == "OPENAI_API_KEY":
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = build_parser().parse_args(argv)
    assert args.command == "serve", argv
    return settings_from_args(args)


def check_env_lands(env: dict[str, str], settings: Settings) -> None:
    """Every gateway variable is one the gateway reads, and its value is the setting in force."""
    known = serve_env_vars()
    fields = set(vars(settings))
    for name, value in env.items():
        if not name.startswith("SORA_GATEWAY_"):
            continue
        assert name in known, f"{name} is not read by `sora-gateway serve` (flags: {sorted(known)})"
        field = known[name]
        if field in fields:
            assert str(getattr(settings, field)) == str(value), f"{name}={value!r} did not reach settings.{field}"


def remap(env: dict[str, str], mounts: dict[str, Path]) -> dict[str, str]:
    """Container paths in ``env`` -> the files mounted there, longest mount first."""
    out = {}
    for name, value in env.items():
        for container in sorted(mounts, key=len, reverse=True):
            pattern = re.compile(r"(?<![\w.-])" + re.escape(container) + r"(?=/|$)")
            if pattern.search(value):  # also inside a URL: sqlite:////var/lib/... -> sqlite:////tmp/...
                value = pattern.sub(lambda _: str(mounts[container]), value)  # noqa: B023
                break
        out[name] = value
    return out


def compose_value(value: object) -> str:
    """``${VAR:-default}`` -> default; ``${VAR:?message}`` -> a stand-in (the key)."""
    text = str(value)
    text = re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", text)
    return re.sub(r"\$\{[A-Z0-9_]+:\?[^}]*\}", UPSTREAM_KEY, text)


def dockerfile(*, every_stage: bool = False) -> list[tuple[str, str]]:
    """Instructions as (KEYWORD, text), continuation lines joined: the runtime stage (after the build's FROM)."""
    joined = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]
    steps = [(line.partition(" ")[0].upper(), line.partition(" ")[2].strip()) for line in lines]
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps if every_stage else steps[:1] + steps[last_from:]


def docker_env(steps: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in steps:
        if keyword == "ENV":
            env.update(part.split("=", 1) for part in shlex.split(rest))  # type: ignore[arg-type]
    return env


def k8s_docs() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def gateway_container(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]["containers"][0]


# -- every file parses -----------------------------------------------------------


def test_every_deploy_file_parses() -> None:
    files = [p for p in DEPLOY.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"Dockerfile", "docker-compose.yml", "nginx.conf", "alerts.yml"}
    for path in files:
        if path.suffix in (".yml", ".yaml"):
            assert list(yaml.safe_load_all(path.read_text())), path
        elif path.suffix == ".json":
            assert json.loads(path.read_text()), path
    for config in (DEPLOY / "gateway.yaml",):
        assert load_file(str(config)), "deploy/gateway.yaml has no settings"


def test_alert_rules_and_dashboard_are_well_formed() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    names = set()
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["expr"].strip() and rule["labels"]["severity"] in ("warning", "critical"), rule
            assert rule["annotations"]["summary"], rule
            names.add(rule["alert"])
    wanted = {"SoraGatewayUpstreamErrorRate", "SoraGatewayBudgetNearExhaustion", "SoraGatewayJobsStuck"}
    assert wanted | {"SoraGatewayRedisDown"} <= names
    board = json.loads((DEPLOY / "grafana" / "dashboards" / "sora-gateway.json").read_text())
    rows = {p["title"] for p in board["panels"] if p["type"] == "row"}
    for row in ("Traffic", "Latency", "Errors", "Spend by team", "Quota pressure", "Cache savings"):
        assert row in rows
    assert {"Upstream health", "Job pipeline"} <= rows
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"]), panel["title"]


# -- Dockerfile ------------------------------------------------------------------


def test_dockerfile_is_slim_non_root_and_runs_a_real_command(monkeypatch: pytest.MonkeyPatch) -> None:
    steps = dockerfile()
    froms = [rest for k, rest in steps if k == "FROM"]
    assert all("slim" in f for f in froms), froms
    user = next(rest for k, rest in reversed(steps) if k == "USER")
    assert user.split(":")[0] not in ("root", "0"), "the image must not run as root"
    entry = json.loads(next(rest for k, rest in steps if k == "ENTRYPOINT"))
    cmd = json.loads(next(rest for k, rest in steps if k == "CMD"))
    assert entry == ["sora-gateway"], "ENTRYPOINT must be the installed console script"
    assert 'sora-gateway = "gateway.cli:main"' in (ROOT / "pyproject.toml").read_text()
    env = docker_env(steps)
    settings = settings_for(cmd, {**env, "SORA_GATEWAY_UPSTREAM_API_KEY": UPSTREAM_KEY}, monkeypatch)
    check_env_lands(env, settings)
    assert settings.host == "0.0.0.0", "inside a container the gateway must listen on every interface"
    exposed = next(rest for k, rest in steps if k == "EXPOSE")
    assert exposed == str(settings.port)
    assert settings.data_dir in next(rest for k, rest in steps if k == "VOLUME")
    health = next(rest for k, rest in steps if k == "HEALTHCHECK")
    assert "/healthz" in health and "SORA_GATEWAY_PORT" in health
    for source in ("pyproject.toml", "README.md", "gateway"):
        assert (ROOT / source).exists()
        assert any(k == "COPY" and source in rest.split()[:-1] for k, rest in dockerfile(every_stage=True)), source
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert not {"pyproject.toml", "README.md", "gateway"} & ignored


def test_dockerfile_command_and_healthcheck_work_for_real(tmp_path: Path, simulator: Proc) -> None:
    """Run what the image runs (its ENV and CMD, paths moved under tmp) and its HEALTHCHECK against it."""
    steps = dockerfile()
    env = docker_env(steps)
    cmd = json.loads(next(rest for k, rest in steps if k == "CMD"))
    port = free_port()
    moved = remap(
        {**env, "SORA_GATEWAY_PORT": str(port), "SORA_GATEWAY_UPSTREAM": simulator.url + "/v1"},
        {env["SORA_GATEWAY_DATA_DIR"]: tmp_path / "data", env["SORA_GATEWAY_POLICIES"]: write_policies(tmp_path / "p")},
    )
    moved["SORA_GATEWAY_UPSTREAM_API_KEY"] = UPSTREAM_KEY
    gw = Proc(cmd, port, env=moved, log_path=tmp_path / "gw.log").start()
    health = next(rest for k, rest in steps if k == "HEALTHCHECK")
    probe = json.loads(health[health.index("CMD") + 3 :].strip())
    assert probe[0] == "python"
    try:
        ok = subprocess.run([sys.executable, *probe[1:]], env={**os.environ, **moved}, timeout=20)
        assert ok.returncode == 0, "the image's HEALTHCHECK fails against a healthy gateway"
        assert all(json.loads(line) for line in gw.logs().splitlines() if line.strip())  # JSON, as ENV asks
    finally:
        gw.stop()
    dead = subprocess.run([sys.executable, *probe[1:]], env={**os.environ, **moved}, capture_output=True, timeout=20)
    assert dead.returncode != 0, "the HEALTHCHECK must fail when the gateway is down"


# -- docker compose --------------------------------------------------------------


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "docker-compose.yml").read_text()))


def bind_mounts(service: dict[str, Any], tmp: Path) -> dict[str, Path]:
    mounts = {}
    for volume in service.get("volumes", []):
        host, container = volume.split(":")[:2]
        if host.startswith((".", "/")):
            mounts[container] = (DEPLOY / host).resolve()
            assert mounts[container].exists(), f"compose mounts {host}, which does not exist"
        else:
            mounts[container] = tmp / host  # a named volume
    return mounts


def test_compose_runs_two_replicas_behind_nginx_with_redis_prometheus_grafana(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = compose()["services"]
    assert {"gateway-1", "gateway-2", "lb", "redis", "prometheus", "grafana"} <= set(services)
    gateways = sorted(name for name, s in services.items() if s.get("command", [""])[0] == "serve")
    assert gateways == ["gateway-1", "gateway-2"]
    targets, data_volumes = set(), set()
    for name in gateways:
        service = services[name]
        build = service["build"]
        assert (DEPLOY / build["context"]).resolve() == ROOT and (ROOT / build["dockerfile"]).is_file()
        env = {k: compose_value(v) for k, v in service["environment"].items()}
        settings = settings_for(service["command"], remap(env, bind_mounts(service, tmp_path)), monkeypatch)
        check_env_lands({k: v for k, v in env.items() if not v.startswith("/")}, settings)
        assert settings.host == "0.0.0.0"
        assert Path(settings.policies).resolve() == (ROOT / "policies").resolve()
        assert settings.store.startswith("redis://redis:6379/"), "replicas must share the compose Redis"
        assert settings.data_dir.startswith(str(tmp_path)), "the data dir must be a named volume"
        data_volumes.add(settings.data_dir)
        # content lives in the bucket of the compose S3 service (MinIO), created before the replicas start
        assert settings.content_store and settings.content_store.startswith("s3://")
        bucket = settings.content_store.removeprefix("s3://").split("/")[0]
        endpoint = re.match(r"http://([\w-]+):(\d+)$", env["AWS_ENDPOINT_URL"])
        assert endpoint and endpoint.group(2) in services[endpoint.group(1)]["expose"]
        assert env["AWS_ACCESS_KEY_ID"] == compose_value(services["minio"]["environment"]["MINIO_ROOT_USER"])
        assert env["AWS_SECRET_ACCESS_KEY"] == compose_value(services["minio"]["environment"]["MINIO_ROOT_PASSWORD"])
        assert f"local/{bucket}" in " ".join(services["minio-bucket"]["command"])
        assert service["depends_on"]["minio-bucket"]["condition"] == "service_completed_successfully"
        assert str(settings.port) in service["expose"]
        assert "redis" in service["depends_on"]
        targets.add(f"{name}:{settings.port}")
    assert services["redis"]["expose"] == ["6379"]
    assert len(data_volumes) == len(gateways), "with S3 content the replicas share no volume"
    # nginx balances over exactly those replicas and listens where compose publishes it
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert set(re.findall(r"^\s*server\s+([\w.-]+:\d+)", nginx, re.M)) == targets
    listen = re.search(r"listen\s+(\d+);", nginx)
    assert listen and services["lb"]["ports"] == [f"8080:{listen.group(1)}"]
    assert bind_mounts(services["lb"], tmp_path)["/etc/nginx/nginx.conf"] == DEPLOY / "nginx.conf"
    body = re.search(r"client_max_body_size\s+(\d+)m;", nginx)
    assert body and int(body.group(1)) * 1024 * 1024 == settings.max_body_bytes
    assert "X-Request-ID" in nginx
    # prometheus scrapes each replica and loads the alert rules from where compose mounts them
    prom_mounts = bind_mounts(services["prometheus"], tmp_path)
    prom = yaml.safe_load(prom_mounts["/etc/prometheus/prometheus.yml"].read_text())
    scraped = {t for job in prom["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    assert targets <= scraped
    for rule_file in prom["rule_files"]:
        assert prom_mounts[rule_file] == DEPLOY / "prometheus" / "alerts.yml"
    # grafana: datasource is the compose prometheus, dashboards provisioned from the mounted folder
    graf = bind_mounts(services["grafana"], tmp_path)
    sources = yaml.safe_load((graf["/etc/grafana/provisioning"] / "datasources" / "prometheus.yml").read_text())
    assert sources["datasources"][0]["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((graf["/etc/grafana/provisioning"] / "dashboards" / "sora-gateway.yml").read_text())
    folder = graf[providers["providers"][0]["options"]["path"]]
    assert (folder / "sora-gateway.json").is_file()
    board = json.loads((folder / "sora-gateway.json").read_text())
    assert sources["datasources"][0]["uid"] == board["templating"]["list"][0]["current"]["value"]


def test_compose_simulator_profile_runs_the_real_simulator_command() -> None:
    sim = compose()["services"]["simulator"]
    args = build_parser().parse_args(sim["command"])
    assert args.command == "simulator"
    assert f":{args.port}/" in " ".join(sim["healthcheck"]["test"]) and str(args.port) in sim["expose"]


# -- Kubernetes ------------------------------------------------------------------


def test_k8s_manifests_are_complete_and_listed() -> None:
    docs = k8s_docs()
    kinds = {d["kind"] for d in docs}
    wanted = {"Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap", "Secret", "PodDisruptionBudget"}
    assert wanted <= kinds
    for doc in docs:
        assert doc.get("apiVersion") and doc["metadata"].get("name"), doc
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


def test_k8s_deployment_matches_the_cli_config_and_probes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = k8s_docs()
    deployment = one(docs, "Deployment", "sora-gateway")
    pod = deployment["spec"]["template"]
    container = gateway_container(deployment)
    # env: literal values plus secret references resolved from the Secret in the manifests
    env = {}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = str(item["value"])
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = one(docs, "Secret", ref["name"])["stringData"][ref["key"]]
    # mounts: config maps written out as the pod would see them
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts: dict[str, Path] = {}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        local = tmp_path / mount["name"]
        if "configMap" in volume:
            data = one(docs, "ConfigMap", volume["configMap"]["name"])["data"]
            if "subPath" in mount:
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_text(data[mount["subPath"]])
            else:
                items = volume["configMap"].get("items") or [{"key": k, "path": k} for k in data]
                assert {i["key"] for i in items} == set(data), "every policy file in the ConfigMap must be mounted"
                for item in items:
                    (local / item["path"]).parent.mkdir(parents=True, exist_ok=True)
                    (local / item["path"]).write_text(data[item["key"]])
        elif "persistentVolumeClaim" in volume:
            pvc = one(docs, "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
            assert "ReadWriteMany" in pvc["spec"]["accessModes"], "replicas share the data volume"
        mounts[mount["mountPath"]] = local
    data_volume = volumes[
        next(m["name"] for m in container["volumeMounts"] if m["mountPath"] == "/var/lib/sora-gateway")
    ]
    settings = settings_for(container["args"], remap(env, mounts), monkeypatch)
    check_env_lands({k: v for k, v in env.items() if not v.startswith("/")}, settings)
    assert settings.host == "0.0.0.0"
    assert settings.data_dir == str(mounts["/var/lib/sora-gateway"]), "data dir must be the mounted volume"
    # content in the bucket named by the S3 Secret, so the data dir is each pod's own scratch
    assert settings.content_store and settings.content_store.startswith("s3://"), settings.content_store
    assert "emptyDir" in data_volume, "with S3 content the pods need no shared volume"
    s3_vars = {"AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    refs = {i["name"]: i["valueFrom"]["secretKeyRef"]["name"] for i in container["env"] if "valueFrom" in i}
    assert {refs[name] for name in s3_vars | {"SORA_GATEWAY_CONTENT_STORE"}} == {"sora-gateway-s3"}
    optional = yaml.safe_load((K8S / "optional" / "pvc-rwx.yaml").read_text())
    assert optional["kind"] == "PersistentVolumeClaim" and "ReadWriteMany" in optional["spec"]["accessModes"]
    policies, problems = load_policies(settings.policies)
    assert not problems and policies.tenants, [str(p) for p in problems]
    # the store is the Redis service of the manifests
    store = re.match(r"redis://([\w-]+):(\d+)/", settings.store)
    assert store, settings.store
    redis_service = one(docs, "Service", store.group(1))
    assert any(p["port"] == int(store.group(2)) for p in redis_service["spec"]["ports"])
    # ports and probes
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["http"] == settings.port
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    # non-root as the image, and a grace period longer than the gateway's own shutdown grace
    security = pod["spec"]["securityContext"]
    user = next(rest for k, rest in dockerfile() if k == "USER").split(":")[0]
    assert security["runAsNonRoot"] and str(security["runAsUser"]) == user
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["spec"]["terminationGracePeriodSeconds"] > settings.shutdown_grace_s + pre_stop
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(settings.port)


def test_k8s_service_hpa_and_pdb_point_at_the_deployment() -> None:
    docs = k8s_docs()
    deployment = one(docs, "Deployment", "sora-gateway")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = one(docs, "Service", "sora-gateway")
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] in {p["name"] for p in gateway_container(deployment)["ports"]}
    hpa = one(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "sora-gateway"}
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"], "a drain must be able to proceed"
    rollout = deployment["spec"]["strategy"]
    assert rollout["type"] == "RollingUpdate" and rollout["rollingUpdate"]["maxUnavailable"] == 0


def test_readme_documents_every_deploy_file() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Operations and deployment", 1)[1].split("\n## ", 1)[0]
    for path in sorted(p for p in DEPLOY.rglob("*") if p.is_file()):
        rel = path.relative_to(DEPLOY)
        named = {str(rel), rel.name if rel.parent.name == "k8s" else str(rel)}
        folders = {f"{parent}/" for parent in rel.parents if str(parent) not in (".", "k8s")}
        assert any(n in section for n in named | folders), f"README's operations section omits {rel}"
    for variable in ("PROMETHEUS_MULTIPROC_DIR", "SORA_GATEWAY_UPSTREAM_API_KEY", "--workers"):
        assert variable in section
