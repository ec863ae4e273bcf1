"""The webhook parts on their own: signing (the Standard Webhooks test vector), the SSRF guard, the
outbox's idempotence, the sender against receivers that time out, reset and fail, and the tenant
file's ``webhooks:`` checked with file:line."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.errors import ApiError
from gateway.pipeline.auth import hash_key
from gateway.policies.loader import load_policies
from gateway.policies.model import Tenant, Webhooks
from gateway.store.base import JobStore
from gateway.webhooks.outbox import OUTBOX, Outbox
from gateway.webhooks.sender import WebhookSender
from gateway.webhooks.signing import sign, verify
from gateway.webhooks.urls import CallbackGuard, parse_nets
from tests.receiver import Receiver

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789").decode()


def test_signature_matches_the_standard_webhooks_vector() -> None:
    secret, msg_id, stamp, body = (
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert sign(secret, msg_id, stamp, body) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert verify(secret, msg_id, stamp, body, "v1,bogus " + sign(secret, msg_id, stamp, body))
    assert not verify(secret, msg_id, stamp + 1, body, sign(secret, msg_id, stamp, body))


@pytest.mark.parametrize(
    ("url", "allowed", "reason"),
    [
        ("http://127.0.0.1:8080/hook", "", "loopback"),
        ("http://127.0.0.1:8080/hook", "127.0.0.0/8", None),
        ("http://[::ffff:127.0.0.1]/hook", "", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "127.0.0.0/8", None),
        ("http://169.254.169.254/latest", "", "metadata"),
        ("http://192.168.1.10/", "", "private"),
        ("http://100.64.0.1/", "", "private or reserved"),
        ("http://[fe80::1]/", "", "link-local"),
        ("http://8.8.8.8/hook", "", None),
        ("https://8.8.8.8:8443/hook?token=x", "", None),
        ("gopher://8.8.8.8/", "", "http:// or https://"),
        ("http:///nohost", "", "no host"),
        ("http://8.8.8.8/" + "x" * 2048, "", "2048 bytes"),
        ("http://no-such-host.invalid/", "", "could not be resolved"),
        # IPv6 addresses that carry an IPv4 one are judged by it (NAT64 and 6to4 networks carry it there)
        ("http://[::127.0.0.1]/", "", "::7f00:1 (which carries 127.0.0.1), a loopback"),
        ("http://[::127.0.0.1]/", "127.0.0.0/8", None),
        ("http://[::ffff:0:7f00:1]/", "", "(which carries 127.0.0.1), a loopback"),
        ("http://[::ffff:0:a00:1]/", "", "(which carries 10.0.0.1), a private"),
        ("http://[64:ff9b::7f00:1]/", "", "(which carries 127.0.0.1), a loopback"),
        ("http://[64:ff9b::7f00:1]/", "127.0.0.0/8", None),
        ("http://[64:ff9b::a9fe:a9fe]/", "", "(which carries 169.254.169.254), a cloud metadata"),
        ("http://[64:ff9b::808:808]/", "", None),  # NAT64 to a public address: fine
        ("http://[64:ff9b:1::7f00:1]/", "", "a local-use NAT64 address"),
        ("http://[2002:7f00:1::]/", "", "(which carries 127.0.0.1), a loopback"),
        ("http://[2002:c0a8:10a::1]/", "", "(which carries 192.168.1.10), a private"),
        ("http://[2002:808:808::1]/", "", None),  # 6to4 of a public address: fine
        ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "", "a private or reserved"),  # Teredo, refused whole
        ("http://[::]/", "", "a private or reserved"),
    ],
)
async def test_guard(url: str, allowed: str, reason: str | None) -> None:
    guard = CallbackGuard(parse_nets(allowed))
    if reason is None:
        await guard.check(url)
        return
    with pytest.raises(ApiError) as caught:
        await guard.check(url)
    err = caught.value
    assert (err.status, err.code, err.param) == (400, "invalid_callback_url", "callback_url")
    assert reason in err.message, err.message


def test_allow_nets_are_parsed_or_refused() -> None:
    assert parse_nets(" 127.0.0.0/8 , ::1/128 ") == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    with pytest.raises(ValueError, match="not a CIDR"):
        parse_nets("127.0.0.0/8, localhost")


def _tenants(url: str, secret: str | None = SECRET) -> dict[str, Tenant]:
    return {"acme": Tenant("acme", webhooks=Webhooks(url=url, secret=secret, events=("video.completed",)))}


async def test_outbox_enqueues_once_per_event_and_target(store: JobStore) -> None:
    tenants = _tenants("http://127.0.0.1:9/team")
    outbox = Outbox(store, tenants.get)
    first = await outbox.notify(
        "acme", "video.completed", {"id": "video_1"}, callback_url="http://127.0.0.1:9/cb", dedupe_key="video_1"
    )
    again = await outbox.notify(
        "acme", "video.completed", {"id": "video_1"}, callback_url="http://127.0.0.1:9/cb", dedupe_key="video_1"
    )
    assert len(first) == 2 and first == again  # the request's callback and the team's webhook
    assert len(await store.doc_list(OUTBOX)) == 2
    assert await outbox.notify("acme", "video.failed", {"id": "video_2"}, dedupe_key="video_2") == []  # not subscribed
    for delivery in await outbox.pending():
        await outbox.done(delivery)
    assert (
        await outbox.notify(
            "acme", "video.completed", {"id": "video_1"}, callback_url="http://127.0.0.1:9/cb", dedupe_key="video_1"
        )
        == []
    )
    assert await store.doc_list(OUTBOX) == []


async def test_sender_retries_timeouts_resets_and_500s_without_blocking(store: JobStore) -> None:
    receiver = Receiver(script=["slow", "reset", "500"], slow_s=2.0).start()
    try:
        tenants = _tenants(receiver.url + "/team")
        outbox = Outbox(store, tenants.get)
        sender = WebhookSender(
            outbox,
            CallbackGuard(parse_nets("127.0.0.0/8")),
            lambda name: SECRET,
            owner="test",
            timeout_s=0.5,
            retry_base_s=0.1,
            retry_max_s=0.2,
            tick_s=0.05,
        )
        await sender.start()
        started = time.monotonic()
        await outbox.notify("acme", "video.completed", {"id": "video_9"}, dedupe_key="video_9")
        deadline = time.monotonic() + 30
        while not receiver.acked("/team"):
            assert time.monotonic() < deadline, receiver.received
            await asyncio.sleep(0.05)
        await sender.stop()
        got = receiver.at("/team")
        assert [r.status for r in got] == [0, -1, 500, 200]
        assert len({r.headers["webhook-id"] for r in got}) == 1 and len({r.body for r in got}) == 1
        for r in got:
            assert verify(
                SECRET,
                r.headers["webhook-id"],
                int(r.headers["webhook-timestamp"]),
                r.body,
                r.headers["webhook-signature"],
            )
        assert await store.doc_list(OUTBOX) == []
        assert time.monotonic() - started < 25
    finally:
        receiver.stop()


def test_policies_check_explains_webhook_mistakes(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    good = f'tenant: good\napi_keys: ["{hash_key("k1")}"]\n'
    good += "webhooks:\n  url: https://hooks.example.com/x\n  secret_env: SG_TEST_WHSEC\n"
    (tenants / "good.yaml").write_text(good)
    bad = (
        f'tenant: bad\napi_keys: ["{hash_key("k2")}"]\n'
        "webhooks:\n"
        "  url: ftp://hooks.example.com/x\n"  # line 4
        "  secret: not-a-secret\n"  # line 5
        "  events: [video.completed, video.exploded]\n"  # line 6
        "  colour: blue\n"  # line 7
    )
    (tenants / "bad.yaml").write_text(bad)
    env_missing = f'tenant: env\napi_keys: ["{hash_key("k3")}"]\n'
    env_missing += 'webhooks: {url: "https://h.example.com", secret_env: SG_TEST_UNSET}\n'
    (tenants / "env.yaml").write_text(env_missing)
    run = subprocess.run(
        [sys.executable, "-m", "gateway", "policies", "check", str(tmp_path)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "SG_TEST_WHSEC": SECRET},
        timeout=60,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "bad.yaml:4: webhooks.url must be an http:// or https:// URL" in out
    assert "bad.yaml:5: webhooks.secret: a webhook secret must look like 'whsec_<base64>'" in out
    assert "bad.yaml:6: webhooks.events: unknown event 'video.exploded'" in out
    assert "bad.yaml:7: unknown webhooks key 'colour'" in out
    assert "env.yaml:3: webhooks.secret_env: the environment variable 'SG_TEST_UNSET' is not set" in out
    assert "good.yaml" not in out
    assert SECRET not in out


def test_policies_check_takes_webhooks_without_url_and_checks_the_rest(tmp_path: Path) -> None:
    """A team may have only a secret: its per-request callback_url deliveries are signed (the url is optional)."""
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    signer = f'tenant: signer\napi_keys: ["{hash_key("k1")}"]\nwebhooks:\n  secret: {SECRET}\n'
    (tenants / "signer.yaml").write_text(signer)
    bad = (
        f'tenant: bad\napi_keys: ["{hash_key("k2")}"]\nwebhooks:\n  secret: not-a-secret\n  events: [video.exploded]\n'
    )
    (tenants / "bad.yaml").write_text(bad)

    def check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway", "policies", "check", str(tmp_path)],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin"},
            timeout=60,
        )

    run = check()
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "bad.yaml:4: webhooks.secret: a webhook secret must look like 'whsec_<base64>'" in out
    assert "bad.yaml:5: webhooks.events: unknown event 'video.exploded'" in out
    assert "signer.yaml" not in out and "needs a 'url'" not in out, out
    (tenants / "bad.yaml").unlink()
    run = check()
    assert run.returncode == 0, run.stdout + run.stderr
    policies, problems = load_policies(tmp_path)
    loaded = policies.tenants["signer"].webhooks
    assert problems == [] and loaded is not None and loaded.url is None and loaded.secret == SECRET


def _certificate(name: str, folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` (its own CA) and its key, as PEM files."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


async def test_a_pinned_delivery_keeps_the_hostname_for_host_sni_and_certificate(tmp_path: Path) -> None:
    """The delivery client connects to the pinned address only, yet speaks TLS to the URL's name: SNI and the
    Host header name it and the certificate is verified for it. No pin (or another name's): no connection."""
    import ssl

    import httpx

    from gateway.webhooks.pinning import delivery_client, pinned
    from gateway.webhooks.urls import Vetted

    cert, key = _certificate("hooks.test", tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    receiver = Receiver(host="127.0.0.2", tls=server_tls).start()
    port = receiver.server.server_address[1]  # type: ignore[union-attr]
    client = delivery_client(5.0, {}, verify=ssl.create_default_context(cafile=str(cert)))
    try:
        with pinned(Vetted("hooks.test", port, ("127.0.0.2",))):
            response = await client.post(f"https://hooks.test:{port}/tls", content=b"{}")
        assert response.status_code == 200
        assert receiver.at("/tls")[0].headers["host"] == f"hooks.test:{port}"
        assert receiver.server_names == ["hooks.test"]
        # the same address for a name the certificate does not cover: verification refuses it
        with pinned(Vetted("other.test", port, ("127.0.0.2",))), pytest.raises(httpx.TransportError) as caught:
            await client.post(f"https://other.test:{port}/tls", content=b"{}")
        assert "certificate" in repr(caught.value.__cause__).lower(), repr(caught.value.__cause__)
        # no pin for this name: the client resolves nothing itself, so it never connects
        before = len(receiver.server_names)
        with pinned(Vetted("other.test", port, ("127.0.0.2",))), pytest.raises(httpx.TransportError) as caught:
            await client.post(f"https://hooks.test:{port}/tls", content=b"{}")
        assert "not vetted" in repr(caught.value.__cause__), repr(caught.value.__cause__)
        with pytest.raises(httpx.TransportError):
            await client.post(f"http://localhost:{port}/plain", content=b"{}")
        assert len(receiver.server_names) == before and len(receiver.received) == 1
    finally:
        await client.aclose()
        receiver.stop()
