"""Policy files: validation with ``file:line: reason``, defaults and shared rule sets, the shipped
examples, ``sora-gateway policies check``, and hot reload in a running gateway (a good edit applies,
a broken one is refused and the previous policy stays in force)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.pipeline.auth import hash_key
from gateway.policies.loader import load_policies
from tests.conftest import FAST_CONFIG, Gateway, start_gateway, write_policies
from tests.procs import Proc, free_port, wait_for

SHIPPED = Path(__file__).resolve().parent.parent / "policies"
KEY = hash_key("sk-policy-test-0001")


def tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def check(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "policies", "check", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_shipped_examples_pass_policies_check() -> None:
    result = check(SHIPPED)
    assert result.returncode == 0, result.stderr
    assert "acme" in result.stdout and "globex" in result.stdout and "brand-safety" in result.stdout
    policy, problems = load_policies(SHIPPED)
    assert not problems
    globex, acme = policy.tenants["globex"], policy.tenants["acme"]
    assert globex.quotas.requests_per_minute == 10 and globex.cache_scope == "off"
    assert [r.name for r in globex.policy.rule_sets] == ["tenant:globex", "content/baseline"]  # via defaults
    assert acme.quotas.video_seconds_per_day == 600  # inherited from defaults.yaml
    assert acme.policy.moderation and acme.policy.max_prompt_chars == 2000  # brand-safety's is stricter
    assert "content/brand-safety" in [r.name for r in acme.policy.rule_sets]


def test_defaults_and_includes_combine(tmp_path: Path) -> None:
    root = tree(
        tmp_path / "policies",
        {
            "defaults.yaml": (
                "models: [sora-2]\n"
                "quotas: {requests_per_minute: 5, concurrent_jobs: 2}\n"
                "content: {blocked_terms: [house-term], sensitive: true, max_prompt_chars: 500, include: [a]}\n"
            ),
            "content/a.yaml": "blocked_terms: [a-term]\nmax_prompt_chars: 300\nallowed_styles: [cinematic, anime]\n",
            "content/b.yaml": "blocked_patterns: ['b+']\nmoderation: true\nallowed_styles: [anime]\n",
            "tenants/one.yaml": f'tenant: one\napi_keys: ["{KEY}"]\nquotas: {{concurrent_jobs: 9}}\n',
            "tenants/two.yaml": (
                f'tenant: two\napi_keys: ["{hash_key("other")}"]\nmodels: [sora-2, sora-2-pro]\n'
                "content: {blocked_terms: [own-term], include: [a, b]}\n"
            ),
        },
    )
    policy, problems = load_policies(root)
    assert not problems, problems
    one, two = policy.tenants["one"], policy.tenants["two"]
    assert one.quotas.requests_per_minute == 5 and one.quotas.concurrent_jobs == 9 and one.models == ("sora-2",)
    assert [(r.name, r.blocked_terms, r.sensitive) for r in one.policy.rule_sets] == [
        ("defaults", ("house-term",), True),
        ("content/a", ("a-term",), False),
    ]
    assert one.policy.max_prompt_chars == 300 and one.policy.allowed_styles == ("cinematic", "anime")
    assert two.models == ("sora-2", "sora-2-pro")
    assert [r.name for r in two.policy.rule_sets] == ["tenant:two", "content/a", "content/b"]
    assert two.policy.rule_sets[0].sensitive  # the defaults' flag applies to the tenant's own list too
    assert two.policy.allowed_styles == ("anime",) and two.policy.moderation


BROKEN: list[tuple[str, dict[str, str], str, int, str]] = [
    # (case, files, file with the problem, line, words in the reason)
    ("yaml", {"tenants/t.yaml": "tenant: t\napi_keys: [\n"}, "tenants/t.yaml", 3, "not valid YAML"),
    ("unknown key", {"tenants/t.yaml": "tenant: t\nquota: {}\n"}, "tenants/t.yaml", 2, "unknown tenant file key"),
    ("bad key", {"tenants/t.yaml": "tenant: t\napi_keys: [sk-plain]\n"}, "tenants/t.yaml", 2, "sha256:"),
    (
        "quota",
        {"tenants/t.yaml": "tenant: t\nquotas:\n  concurrent_jobs: 1.5\n"},
        "tenants/t.yaml",
        3,
        "whole number",
    ),
    (
        "negative",
        {"tenants/t.yaml": "tenant: t\nquotas:\n  budget_usd_per_month: -1\n"},
        "tenants/t.yaml",
        3,
        "number >= 0",
    ),
    ("unknown quota", {"tenants/t.yaml": "tenant: t\nquotas: {rpm: 3}\n"}, "tenants/t.yaml", 2, "unknown quotas key"),
    ("model", {"tenants/t.yaml": "tenant: t\nmodels:\n  - sora-3\n"}, "tenants/t.yaml", 3, "unknown model 'sora-3'"),
    (
        "regex",
        {"tenants/t.yaml": "tenant: t\ncontent:\n  blocked_patterns:\n    - '(unclosed'\n"},
        "tenants/t.yaml",
        4,
        "invalid regular expression",
    ),
    (
        "include",
        {"tenants/t.yaml": "tenant: t\ncontent:\n  include: [nope]\n"},
        "tenants/t.yaml",
        3,
        "no shared rule set 'nope'",
    ),
    ("scope", {"tenants/t.yaml": "tenant: t\ncache: {scope: global}\n"}, "tenants/t.yaml", 2, "cache.scope"),
    ("flag", {"tenants/t.yaml": "tenant: t\ncontent: {moderation: maybe}\n"}, "tenants/t.yaml", 2, "true or false"),
    ("defaults", {"defaults.yaml": "quotas:\n  concurrent_jobs: lots\n"}, "defaults.yaml", 2, "number >= 0"),
    ("shared", {"content/x.yaml": "include: [y]\n"}, "content/x.yaml", 1, "unknown content key 'include'"),
    ("empty", {"tenants/t.yaml": ""}, "tenants/t.yaml", 1, "empty"),
    (
        "duplicate key",
        {
            "tenants/a.yaml": f'tenant: a\napi_keys: ["{KEY}"]\n',
            "tenants/b.yaml": f'tenant: b\napi_keys: ["{KEY}"]\n',
        },
        "tenants/b.yaml",
        1,
        "also used by tenant 'a'",
    ),
]


@pytest.mark.parametrize(("case", "files", "where", "line", "reason"), BROKEN, ids=[b[0] for b in BROKEN])
def test_problems_name_file_and_line(
    tmp_path: Path, case: str, files: dict[str, str], where: str, line: int, reason: str
) -> None:
    root = tree(tmp_path / "policies", {"tenants/ok.yaml": f'tenant: ok\napi_keys: ["{hash_key("ok")}"]\n', **files})
    _, problems = load_policies(root)
    expected = f"{root / where}:{line}:"
    assert any(str(p).startswith(expected) and reason in p.reason for p in problems), (expected, problems)


def test_policies_check_exits_1_with_file_and_line(tmp_path: Path) -> None:
    root = tree(tmp_path / "policies", {"tenants/t.yaml": "tenant: t\nquotas:\n  concurrent_jobs: many\n"})
    result = check(root)
    assert result.returncode == 1
    assert f"{root / 'tenants/t.yaml'}:3: quotas.concurrent_jobs must be a number >= 0" in result.stderr
    assert "Traceback" not in result.stderr


# -- hot reload in a running gateway -------------------------------------------------------------

HOT_KEY = "sk-hot-reload-0001"
NEW_KEY = "sk-hot-new-team-0002"


def hot_file(rpm: int) -> str:
    keys = f'api_keys: ["{hash_key(HOT_KEY)}"]'
    return f"tenant: hot\n{keys}\nquotas: {{requests_per_minute: {rpm}}}\ncache: {{scope: off}}\n"


def call(gw: Gateway, key: str, method: str, path: str, **kw: Any) -> httpx.Response:
    with httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
        return c.request(method, path, **kw)


def limit_in_force(gw: Gateway) -> int | None:
    return call(gw, HOT_KEY, "GET", "/v1/gateway/usage").json()["limits"]["requests_per_minute"]


def test_hot_reload_applies_good_edits_and_refuses_broken_ones(simulator: Proc, tmp_path: Path) -> None:
    policies = write_policies(tmp_path / "policies")
    tenant_file = policies / "tenants" / "hot.yaml"
    tenant_file.write_text(hot_file(2))
    gw = start_gateway(
        simulator,
        tmp_path,
        f"sqlite:///{tmp_path / 'gw.db'}",
        policies=policies,
        config=FAST_CONFIG + "policy_reload_s: 0.2\n",
    )
    try:
        create = {"json": {"prompt": "hot reload clip", "seconds": "4"}}
        assert [call(gw, HOT_KEY, "POST", "/v1/videos", **create).status_code for _ in range(3)] == [200, 200, 429]

        tenant_file.write_text(hot_file(4))  # raise the limit: applies without a restart
        wait_for(lambda: limit_in_force(gw) == 4, "the new limit")
        assert call(gw, HOT_KEY, "POST", "/v1/videos", **create).status_code == 200

        tenant_file.write_text(hot_file(4).replace("quotas:", "quotas: [oops"))  # a broken edit
        wait_for(lambda: not httpx.get(gw.url + "/readyz").json()["checks"]["policies"]["valid"], "the refusal")
        ready = httpx.get(gw.url + "/readyz")
        assert ready.status_code == 200  # the previous policy is still in force: the gateway stays ready
        problems = ready.json()["checks"]["policies"]["problems"]
        assert problems and problems[0].startswith(f"{tenant_file}:")
        metrics = httpx.get(gw.url + "/metrics").text
        assert "sora_gateway_policy_reload_errors_total 1.0" in metrics
        assert "sora_gateway_policy_valid 0.0" in metrics
        assert limit_in_force(gw) == 4
        assert call(gw, HOT_KEY, "POST", "/v1/videos", **create).status_code == 200  # 4 of 4
        assert call(gw, HOT_KEY, "POST", "/v1/videos", **create).status_code == 429
        assert "policy_reload_refused" in gw.proc.logs()

        tenant_file.write_text(hot_file(6))  # fixed, and a new team appears: both apply
        (policies / "tenants" / "newteam.yaml").write_text(f'tenant: newteam\napi_keys: ["{hash_key(NEW_KEY)}"]\n')
        wait_for(lambda: limit_in_force(gw) == 6, "the fixed file")
        assert call(gw, NEW_KEY, "GET", "/v1/videos").status_code == 200
        assert "sora_gateway_policy_valid 1.0" in httpx.get(gw.url + "/metrics").text

        tenant_file.unlink()  # a removed team's key stops working
        wait_for(lambda: call(gw, HOT_KEY, "GET", "/v1/videos").status_code == 401, "the removal")
    finally:
        gw.proc.stop()


# -- mistakes a newcomer makes (issue 22, item 7) -------------------------------------------------


def serve_with(policies: Path) -> subprocess.CompletedProcess[str]:
    """``sora-gateway serve --policies DIR``: it must refuse before serving (the timeout says it did not)."""
    env = {"PATH": "/usr/bin:/bin", "SORA_GATEWAY_UPSTREAM_API_KEY": "sk-upstream-0123456789"}
    argv = ["serve", "--policies", str(policies), "--store", "memory://", "--port", str(free_port())]
    return subprocess.run([sys.executable, "-m", "gateway", *argv], capture_output=True, text=True, env=env, timeout=60)


def test_a_tenant_nobody_can_sign_in_as_is_an_error_in_check_and_serve(tmp_path: Path) -> None:
    root = tree(
        tmp_path / "policies",
        {
            "tenants/ok.yaml": f'tenant: ok\napi_keys: ["{KEY}"]\n',
            "tenants/nokeys.yaml": "# a team\ntenant: nokeys\nquotas: {concurrent_jobs: 2}\n",
            "tenants/empty.yaml": "tenant: empty\n\napi_keys: []\n",
        },
    )
    expected = [
        f"{root / 'tenants/empty.yaml'}:3: api_keys is empty: nobody can sign in as tenant 'empty'",
        f"{root / 'tenants/nokeys.yaml'}:2: no api_keys: nobody can sign in as tenant 'nokeys'",
    ]
    checked = check(root)
    assert checked.returncode == 1 and "ok:" not in checked.stdout, checked.stdout
    for line in expected:
        assert line in checked.stderr, checked.stderr
    assert "sora-gateway keys hash KEY" in checked.stderr  # how to make the missing hash
    served = serve_with(root)  # the gateway refuses the same files, with the same lines
    assert served.returncode == 1, served.stderr
    for line in expected:
        assert line in served.stderr, served.stderr
    assert "Traceback" not in checked.stderr + served.stderr


def test_the_tenants_folder_given_for_the_policies_folder_is_named_as_such(tmp_path: Path) -> None:
    root = tree(tmp_path / "policies", {"tenants/ok.yaml": f'tenant: ok\napi_keys: ["{KEY}"]\n'})
    checked = check(root / "tenants")
    assert checked.returncode == 2, checked.stderr
    message = checked.stderr.strip()
    assert "looks like the tenants folder; pass its parent (the policies folder)" in message
    assert message.endswith(f"sora-gateway policies check {root}"), message
    assert "tenants/tenants" not in message  # never a file that does not exist
    assert check(root).returncode == 0  # the hint is true: the parent passes
    served = serve_with(root / "tenants")
    assert served.returncode == 1 and "tenants/tenants" not in served.stderr, served.stderr
    assert f"{root / 'tenants'}: no tenants: this looks like the tenants folder; pass its parent" in served.stderr
