"""The CloudFormation template through cfn-lint, the Kubernetes manifests through kubernetes-validate
(the API's own OpenAPI schemas, strict: unknown fields are errors), plus the properties the brief asks of
them that a schema cannot know."""

import subprocess

import yaml

from conftest import KUBERNETES_DIR, SAGEMAKER_DIR, tool

TEMPLATE = SAGEMAKER_DIR / "cloudformation" / "endpoint.yaml"
MANIFESTS = sorted(p for p in KUBERNETES_DIR.glob("*.yaml") if p.name != "kustomization.yaml")
# The oldest Kubernetes the manifests promise (the native preStop sleep needs 1.30) and the newest the
# validator knows.
KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300)


def test_cfn_lint():
    result = run(tool("cfn-lint"), str(TEMPLATE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_catches_a_broken_template(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(TEMPLATE.read_text().replace("PredefinedMetricType: SageMakerVariantInvocationsPerInstance",
                                                   "PredefinedMetricType: InvocationsPerInstance"))  # fmt: skip
    assert run(tool("cfn-lint"), str(broken)).returncode != 0


def test_template_contents():
    text = TEMPLATE.read_text()
    for resource in ("AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint",
                     "AWS::ApplicationAutoScaling::ScalableTarget", "AWS::ApplicationAutoScaling::ScalingPolicy"):  # fmt: skip
        assert f"Type: {resource}" in text
    assert text.count("{ Key: Project, Value: !Ref ProjectName }") == 3
    assert text.count("{ Key: Owner, Value: !Ref Owner }") == 3
    assert "TargetTrackingScaling" in text and "SageMakerVariantInvocationsPerInstance" in text


def test_kubernetes_validate():
    for version in KUBERNETES_VERSIONS:
        result = run(tool("kubernetes-validate"), "--strict", "-k", version, *map(str, MANIFESTS))
        assert result.returncode == 0, result.stdout + result.stderr


def test_kubernetes_validate_catches_a_broken_manifest(tmp_path):
    broken = tmp_path / "deployment.yaml"
    broken.write_text((KUBERNETES_DIR / "deployment.yaml").read_text().replace("readinessProbe:", "readynessProbe:"))
    assert run(tool("kubernetes-validate"), "--strict", str(broken)).returncode != 0


def documents():
    docs = {}
    for path in MANIFESTS:
        for doc in yaml.safe_load_all(path.read_text()):
            docs[doc["kind"]] = doc
    return docs


def test_deployment_contract():
    docs = documents()
    pod = docs["Deployment"]["spec"]["template"]
    spec = pod["spec"]
    (server,) = spec["containers"]
    assert spec["terminationGracePeriodSeconds"] >= 30
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert server[probe]["httpGet"]["path"] == "/ping", probe
    assert server["ports"][0]["containerPort"] == 8080
    assert server["resources"]["requests"] and server["resources"]["limits"]
    assert {m["mountPath"] for m in server["volumeMounts"]} >= {"/opt/ml/model", "/tmp"}
    assert pod["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/metrics"}  # fmt: skip
    assert [c["name"] for c in spec["initContainers"]] == ["fetch-model", "unpack-model"]


def test_service_and_autoscaler():
    docs = documents()
    assert docs["Service"]["spec"]["selector"] == docs["Deployment"]["spec"]["selector"]["matchLabels"]
    hpa = docs["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": docs["Deployment"]["metadata"]["name"]}
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def test_shellcheck():
    """The scripts are what users run against a real account: lint them (shellcheck from Debian,
    installed by .ci/install-deploy-deps.sh)."""
    scripts = sorted(SAGEMAKER_DIR.glob("*.sh")) + [SAGEMAKER_DIR.parents[1] / "tests" / "deploy" / "run.sh",
                                                     SAGEMAKER_DIR.parents[1] / ".ci" / "install-deploy-deps.sh"]  # fmt: skip
    result = subprocess.run(["shellcheck", "-x", "-s", "bash", *map(str, scripts)], capture_output=True, text=True,
                            cwd=SAGEMAKER_DIR, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
