"""A real S3-compatible server for tests: moto's server mode (``python -m moto.server``) on 127.0.0.1.

The gateway talks to it over HTTP with real S3 requests (obstore); nothing in the client is mocked.
Buckets are made with boto3 (a dependency of moto) under a random name per test or module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.procs import free_port

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing-key", "AWS_SECRET_ACCESS_KEY": "testing-secret"}


@dataclass
class S3Server:
    port: int
    popen: subprocess.Popen[bytes]
    log: Path
    buckets: list[str] = field(default_factory=list)
    credentials: dict[str, str] = field(default_factory=lambda: dict(CREDENTIALS))

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The standard AWS variables a gateway (or a store in this process) reads."""
        return {**self.credentials, "AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": "us-east-1"}

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.credentials["AWS_SECRET_ACCESS_KEY"],
        )

    def new_bucket(self) -> str:
        name = f"gw-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        self.buckets.append(name)
        return name

    def objects(self, bucket: str, prefix: str = "") -> dict[str, int]:
        """Every object's key and size (what a listing shows: complete uploads only)."""
        found: dict[str, int] = {}
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found[item["Key"]] = int(item["Size"])
        return found

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def start_s3_server(timeout: float = 60.0, port: int | None = None, *, auth: bool = False) -> S3Server:
    """moto's server; ``auth``: it checks signatures and keys (an IAM user's, made first) like real S3.

    Ready means moto itself answers (``/moto-api/`` 200 from Werkzeug while our process lives): with a free
    port picked here, another test's process may take it first; then moto exits and a new port is tried."""
    for _ in range(3):
        server = _start_moto(timeout, port or free_port(), auth)
        if server is not None or port is not None:
            break
    if server is None:
        raise RuntimeError("moto server could not bind a port")
    return server


def _start_moto(timeout: float, port: int, auth: bool) -> S3Server | None:
    log = Path(tempfile.mkstemp(prefix="moto-", suffix=".log")[1])
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"} if auth else None
    with open(log, "ab") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out, env=env
        )
    server = S3Server(port, popen, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            text = log.read_text(errors="replace")
            if "Address already in use" in text:
                return None  # the port was taken between picking it and binding it
            raise RuntimeError(f"moto server exited ({popen.returncode}): {text}")
        try:
            answer = httpx.get(server.endpoint + "/moto-api/", timeout=1)
        except httpx.HTTPError:
            time.sleep(0.1)
            continue
        if answer.status_code == 200 and "Werkzeug" in answer.headers.get("server", "") and popen.poll() is None:
            if auth:
                _make_user(server)
            return server
        time.sleep(0.1)  # someone else answers on this port: moto will fail to bind and exit
    server.stop()
    raise RuntimeError(f"moto server not ready after {timeout}s")


def _make_user(server: S3Server) -> None:
    """The three requests moto lets through unchecked: a user, its key, a policy allowing everything."""
    import boto3

    iam = boto3.client("iam", endpoint_url=server.endpoint, region_name="us-east-1", **_boto_keys(CREDENTIALS))
    iam.create_user(UserName="gateway")
    key = iam.create_access_key(UserName="gateway")["AccessKey"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_user_policy(UserName="gateway", PolicyName="all", PolicyDocument=json.dumps(policy))
    server.credentials = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def _boto_keys(credentials: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": credentials["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": credentials["AWS_SECRET_ACCESS_KEY"],
    }
