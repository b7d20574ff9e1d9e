"""Fixtures for the deploy kit's tests: a moto server on a free port, an environment with dummy
credentials that can only reach it, and helpers that run the scripts and the real AWS CLI."""

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import botocore
import pytest

REPO = Path(__file__).resolve().parents[2]
SAGEMAKER_DIR = REPO / "deploy" / "sagemaker"
KUBERNETES_DIR = REPO / "deploy" / "kubernetes"
# The tools come from the same venv as this interpreter (.ci/install-deploy-deps.sh), never from PATH:
# a pyenv or system `aws` of another version would test something else.
VENV_BIN = Path(sys.executable).parent


def tool(name):
    path = VENV_BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not in {VENV_BIN}: run .ci/install-deploy-deps.sh")
    return str(path)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(tmp_path):
    """Dummy credentials, no shared config, no instance metadata: nothing can reach real AWS."""
    env = {
        "PATH": f"{VENV_BIN}:/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
        "MLS_DEPLOY_STATE_DIR": str(tmp_path / "state"),
        "USER": "ci",
    }
    (tmp_path / "home").mkdir(exist_ok=True)
    return env


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory):
    port = free_port()
    workdir = tmp_path_factory.mktemp("moto")
    log = workdir / "moto.log"
    # moto's request recorder keeps every request body as the CLI sent it: the tests read fields back
    # from there where moto does not store them (see deploy/README.md, "What the mock lacks").
    env = dict(os.environ, MOTO_ENABLE_RECORDING="True", MOTO_RECORDER_FILEPATH=str(workdir / "recording.jsonl"))
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [tool("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    MOTO_RECORDING[url] = workdir / "recording.jsonl"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto_server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


MOTO_RECORDING = {}


class Aws:
    """Runs the deploy scripts and the real AWS CLI against the mock."""

    def __init__(self, env, url):
        self.env = env
        self.url = url
        self._clients = {}

    def script(self, name, *args, check=True, stdin=subprocess.DEVNULL):
        result = subprocess.run(
            ["bash", str(SAGEMAKER_DIR / name), *args],
            env=self.env,
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and result.returncode != 0:
            pytest.fail(f"{name} {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
        return result

    def client(self, service):
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service, endpoint_url=self.url, region_name="us-east-1",
                aws_access_key_id="testing", aws_secret_access_key="testing",
            )  # fmt: skip
        return self._clients[service]

    def cli(self, service, operation, *args):
        """Reads back with CLI-style arguments ("sagemaker", "describe-endpoint", "--endpoint-name", x),
        answered by botocore in this process: the scripts already go through the real CLI, and a CLI
        process per read-back would double the test's time on a 2-core machine."""
        client = self.client(service)
        model = client.meta.service_model
        name = {botocore.xform_name(op, "-"): op for op in model.operation_names}[operation]
        shape = model.operation_model(name).input_shape
        members = {botocore.xform_name(m, "-"): m for m in shape.members}
        params = {}
        for flag, value in zip(args[::2], args[1::2]):
            member = members[flag[2:]]
            params[member] = [value] if shape.members[member].type_name == "list" else value
        result = getattr(client, botocore.xform_name(name))(**params)
        result.pop("ResponseMetadata", None)
        return result

    def sent(self, operation):
        """The JSON bodies of every OPERATION request (e.g. "CreateTrainingJob") the mock received."""
        bodies = []
        path = MOTO_RECORDING[self.url]
        for line in path.read_text().splitlines() if path.exists() else []:
            entry = json.loads(line)
            target = {k.lower(): v for k, v in entry["headers"].items()}.get("x-amz-target", "")
            if target.endswith("." + operation):
                body = entry["body"]
                if entry.get("body_encoded"):
                    body = base64.b64decode(body).decode("utf-8")
                bodies.append(json.loads(body))
        return bodies

    def tags(self, arn):
        return {t["Key"]: t["Value"] for t in self.cli("sagemaker", "list-tags", "--resource-arn", arn)["Tags"]}


@pytest.fixture
def aws(moto_url, tmp_path):
    # Each test starts from an empty mock.
    urllib.request.urlopen(urllib.request.Request(moto_url + "/moto-api/reset", method="POST")).read()
    MOTO_RECORDING[moto_url].write_text("")
    return Aws(base_env(tmp_path), moto_url)
