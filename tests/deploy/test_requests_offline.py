"""Every request the scripts can make, checked offline against the AWS API's own model (botocore's
service-2.json, the same validation the CLI runs before sending). This covers the calls moto lacks —
StopTrainingJob, StopTransformJob, StopHyperParameterTuningJob — and the fields it does not keep,
with the same JSON the scripts would send (--dry-run writes it instead of calling AWS)."""

import json
import re
import subprocess

import botocore.session
import pytest
from botocore.validate import ParamValidator

from conftest import SAGEMAKER_DIR, base_env

ACCOUNT = "123456789012"
COMMON = ["--account", ACCOUNT, "--project", "mlsdry", "--environment", "ci", "--owner", "deploy-test"]


def run(env, *args):
    result = subprocess.run(["bash", *args], env=env, capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL)  # fmt: skip
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result


@pytest.fixture(scope="module")
def requests_written(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dry")
    env = base_env(tmp)
    # No endpoint at all: a dry run must not need one (and any stray call would fail without a network).
    env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"
    out = tmp / "requests"
    s = str(SAGEMAKER_DIR)
    d = ["--dry-run", str(out)]
    run(env, f"{s}/push-ecr.sh", *COMMON, *d, "--skip-push")
    run(env, f"{s}/train.sh", "forest", *COMMON, *d, "--validation")
    run(env, f"{s}/train.sh", "cnn", *COMMON, *d)
    run(env, f"{s}/deploy-endpoint.sh", *COMMON, *d, "--name", "mlsdry-ep", "--model-data", "s3://b/model.tar.gz")
    run(env, f"{s}/deploy-endpoint.sh", *COMMON, *d, "--serverless", "--model-data", "s3://b/model.tar.gz")
    run(env, f"{s}/autoscale.sh", "mlsdry-ep", *COMMON, *d)
    run(env, f"{s}/batch-transform.sh", "mlsdry-ep-model", *COMMON, *d, "--join-input")
    run(env, f"{s}/tune.sh", *COMMON, *d, "--validation-uri", "s3://b/validation/")
    # Teardown plans from the state file in a dry run: give it one of each kind, jobs still running.
    state_dir = tmp / "state"
    state_dir.mkdir()
    (state_dir / "mlsdry-ci-us-east-1.state").write_text(
        "training-job mlsdry-train\n"
        "transform-job mlsdry-transform\n"
        "tuning-job mlsdry-hpo\n"
        "model mlsdry-ep-model\n"
        "endpoint-config mlsdry-ep-config\n"
        "endpoint mlsdry-ep\n"
        "scalable-target endpoint/mlsdry-ep/variant/AllTraffic\n"
        "scaling-policy mlsdry-ep-invocations-target endpoint/mlsdry-ep/variant/AllTraffic\n"
    )
    teardown = run(env, f"{s}/teardown.sh", *COMMON, *d)
    return sorted(out.glob("*.json")), teardown


def operation_model(service, cli_name):
    model = botocore.session.get_session().get_service_model(service)
    by_cli_name = {botocore.xform_name(op, "-"): op for op in model.operation_names}
    return model.operation_model(by_cli_name[cli_name])


def constraint_errors(value, shape, where="request"):
    """What ParamValidator leaves out: enums, maximum lengths and values, and the patterns of strings
    (AWS writes them as Java regexes; the few that Python cannot compile are skipped)."""
    errors = []
    meta = shape.metadata
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            if name in value:
                errors += constraint_errors(value[name], member, f"{where}.{name}")
    elif shape.type_name == "list":
        for i, item in enumerate(value):
            errors += constraint_errors(item, shape.member, f"{where}[{i}]")
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{where}: more than {meta['max']} items")
    elif shape.type_name == "map":
        for k, v in value.items():
            errors += constraint_errors(k, shape.key, f"{where} key {k}")
            errors += constraint_errors(v, shape.value, f"{where}[{k}]")
    elif shape.type_name == "string":
        if shape.enum and value not in shape.enum:
            errors.append(f"{where}: {value!r} not one of {shape.enum}")
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{where}: longer than {meta['max']}")
        if "pattern" in meta:
            try:
                pattern = re.compile(meta["pattern"])
            except re.error:
                pattern = None
            if pattern and not pattern.fullmatch(value):
                errors.append(f"{where}: {value!r} does not match {meta['pattern']}")
    elif shape.type_name in ("integer", "long") and "max" in meta and value > meta["max"]:
        errors.append(f"{where}: {value} over {meta['max']}")
    return errors


def test_the_constraint_check_catches_mistakes():
    op = operation_model("sagemaker", "create-transform-job")
    bad = {"BatchStrategy": "MULTI_RECORD", "TransformJobName": "x" * 64, "ModelName": "no_underscores"}
    errors = " ".join(constraint_errors(bad, op.input_shape))
    for field in ("BatchStrategy", "TransformJobName", "ModelName"):
        assert f"request.{field}:" in errors, errors


def test_every_request_is_valid_for_the_api_model(requests_written):
    files, _ = requests_written
    seen = set()
    for path in files:
        _, service, operation = path.stem.split("-", 2)
        # File names are NNN-SERVICE-OPERATION; application-autoscaling has a hyphen of its own.
        if service == "application":
            service, operation = "application-autoscaling", operation.split("-", 1)[1]
        op = operation_model(service, operation)
        params = json.loads(path.read_text())
        report = ParamValidator().validate(params, op.input_shape)
        assert not report.has_errors(), f"{path.name}: {report.generate_report()}"
        assert constraint_errors(params, op.input_shape) == [], path.name
        seen.add(op.name)
    assert seen == {
        "CreateRepository", "CreateTrainingJob", "CreateModel", "CreateEndpointConfig", "CreateEndpoint",
        "RegisterScalableTarget", "PutScalingPolicy", "CreateTransformJob", "CreateHyperParameterTuningJob",
        "DeleteScalingPolicy", "DeregisterScalableTarget", "DeleteEndpoint", "DeleteEndpointConfig",
        "DeleteModel", "StopTrainingJob", "StopTransformJob", "StopHyperParameterTuningJob",
    }  # fmt: skip


def requests(files, operation):
    return [json.loads(p.read_text()) for p in files if p.stem.endswith("-" + operation)]


def test_teardown_order_and_listing(requests_written):
    files, teardown = requests_written
    order = [p.stem.split("-", 1)[1] for p in files if "delete" in p.stem or "deregister" in p.stem or "stop" in p.stem]
    # A policy before its target, an endpoint before the configuration and model it uses.
    assert order.index("application-autoscaling-delete-scaling-policy") < order.index("application-autoscaling-deregister-scalable-target")
    assert order.index("sagemaker-delete-endpoint") < order.index("sagemaker-delete-endpoint-config") < order.index("sagemaker-delete-model")
    for line in ("endpoint mlsdry-ep", "model mlsdry-ep-model", "training-job mlsdry-train (stopped)"):
        assert line in teardown.stdout


def test_every_created_resource_is_tagged(requests_written):
    files, _ = requests_written
    tagged = 0
    for path in files:
        params = json.loads(path.read_text())
        # Everything that creates something; scaling policies cannot carry tags (their target does).
        if "-create-" not in path.stem and "-register-" not in path.stem:
            continue
        tags = params.get("Tags", params.get("tags"))
        assert tags, f"{path.name} has no tags"
        as_dict = tags if isinstance(tags, dict) else {t.get("Key", t.get("key")): t.get("Value", t.get("value")) for t in tags}
        assert {k: as_dict.get(k) for k in ("Project", "Environment", "Owner")} == {
            "Project": "mlsdry", "Environment": "ci", "Owner": "deploy-test"}, path.name  # fmt: skip
        tagged += 1
    assert tagged == 12


def test_batch_transform_request(requests_written):
    files, _ = requests_written
    (job,) = requests(files, "create-transform-job")
    assert job["BatchStrategy"] == "MultiRecord"
    assert job["TransformInput"]["SplitType"] == "Line" and job["TransformInput"]["ContentType"] == "text/csv"
    assert job["TransformOutput"] == {"S3OutputPath": job["TransformOutput"]["S3OutputPath"], "Accept": "text/csv", "AssembleWith": "Line"}
    assert job["DataProcessing"] == {"JoinSource": "Input"}
    assert "MaxConcurrentTransforms" not in job  # left to the container's /execution-parameters


def test_tuning_objective_is_a_defined_metric(requests_written):
    files, _ = requests_written
    (job,) = requests(files, "create-hyper-parameter-tuning-job")
    objective = job["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    metrics = {m["Name"] for m in job["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"]}
    assert objective == {"Type": "Maximize", "MetricName": "validation:auc"}
    assert objective["MetricName"] in metrics
    ranges = job["HyperParameterTuningJobConfig"]["ParameterRanges"]
    tuned = {r["Name"] for kind in ranges.values() for r in kind}
    assert {"n_estimators", "max_depth", "min_samples_leaf", "max_features"} <= tuned
    assert not tuned & set(job["TrainingJobDefinition"]["StaticHyperParameters"])
    assert len(job["HyperParameterTuningJobName"]) <= 32


def test_spot_training_has_checkpoints(requests_written):
    files, _ = requests_written
    jobs = {j["HyperParameters"]["model_type"]: j for j in requests(files, "create-training-job")}
    assert jobs["cnn"]["EnableManagedSpotTraining"] is True
    assert jobs["cnn"]["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints"
    assert jobs["cnn"]["StoppingCondition"]["MaxWaitTimeInSeconds"] >= jobs["cnn"]["StoppingCondition"]["MaxRuntimeInSeconds"]
    assert "EnableManagedSpotTraining" not in jobs["forest"]
    assert [c["ChannelName"] for c in jobs["forest"]["InputDataConfig"]] == ["training", "validation"]
