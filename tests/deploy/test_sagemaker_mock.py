"""The deploy scripts end to end against moto through the real AWS CLI: create everything, read it back,
tear it down, and check that nothing of ours is left while other projects' resources are."""

import json
import subprocess
from pathlib import Path

import pytest

from conftest import SAGEMAKER_DIR

ACCOUNT = "123456789012"
IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/mls-deploy-test:ci-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/mls-test-sagemaker"
BUCKET = "mls-deploy-test-bucket"
TAGS = {"Project": "mlstest", "Environment": "ci", "Owner": "deploy-test"}
COMMON = [
    "--account", ACCOUNT, "--region", "us-east-1", "--image-uri", IMAGE, "--role-arn", ROLE,
    "--bucket", BUCKET, "--project", "mlstest", "--environment", "ci", "--owner", "deploy-test",
]  # fmt: skip


def metric_definitions(kind):
    out = subprocess.run(
        ["bash", "-c", f". '{SAGEMAKER_DIR}/metrics.sh'; {kind}_metric_definitions"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def has_our_tags(tags):
    return all(tags.get(k) == v for k, v in TAGS.items())


def test_every_script_has_help(aws):
    for script in sorted(SAGEMAKER_DIR.glob("*.sh")):
        if script.name == "lib.sh" or script.name == "metrics.sh":
            continue
        result = aws.script(script.name, "--help")
        assert "Usage:" in result.stdout, script.name
        assert "--endpoint-url" in result.stdout and "--yes" in result.stdout, script.name


def test_billable_calls_need_confirmation(aws):
    """Without --yes (and no terminal to ask on) nothing is created, with exit status 3."""
    result = aws.script("train.sh", "forest", *COMMON, "--endpoint-url", aws.url, "--name", "mlstest-refused", check=False)
    assert result.returncode == 3
    assert "WARNING" in result.stderr and "$0.115/h" in result.stderr
    assert aws.cli("sagemaker", "list-training-jobs")["TrainingJobSummaries"] == []
    result = aws.script("deploy-endpoint.sh", *COMMON, "--endpoint-url", aws.url, "--model-data", "s3://b/m.tar.gz", check=False)
    assert result.returncode == 3
    assert aws.cli("sagemaker", "list-models")["Models"] == []


def test_deploy_read_back_and_teardown(aws):
    # AWS_ENDPOINT_URL (the environment) is one of the two ways to reach the mock; --endpoint-url the other.
    aws.env["AWS_ENDPOINT_URL"] = aws.url
    common = COMMON + ["--yes"]

    # Somebody else's resources in the same account: teardown must leave them alone.
    for name, env in (("mlstest-prod-model", "prod"), ("otherproject-model", "ci")):
        project = "mlstest" if env == "prod" else "otherproject"
        aws.client("sagemaker").create_model(
            ModelName=name, PrimaryContainer={"Image": "other"}, ExecutionRoleArn=ROLE,
            Tags=[{"Key": "Project", "Value": project}, {"Key": "Environment", "Value": env}])  # fmt: skip

    # ECR: the repository (the docker push itself needs a real registry; see deploy/README.md).
    uri = aws.script("push-ecr.sh", *common, "--skip-push").stdout.strip()
    assert uri == IMAGE
    repo = aws.cli("ecr", "describe-repositories", "--repository-names", "mls-deploy-test")["repositories"][0]
    repo_tags = aws.cli("ecr", "list-tags-for-resource", "--resource-arn", repo["repositoryArn"])["tags"]
    assert has_our_tags({t["Key"]: t["Value"] for t in repo_tags})
    # A second run finds the repository instead of failing on it.
    assert "exists" in aws.script("push-ecr.sh", *common, "--skip-push").stderr

    # Training: the forest on demand, the CNN on spot with checkpoints.
    forest = aws.script("train.sh", "forest", *common, "--instance-type", "ml.c5.xlarge",
                        "--hyperparameter", "max_depth=12").stdout.strip()  # fmt: skip
    job = aws.cli("sagemaker", "describe-training-job", "--training-job-name", forest)
    assert forest.startswith("mlstest-ci-forest-")
    assert job["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    # moto answers DescribeTrainingJob with canned MetricDefinitions: check what the CLI sent instead.
    sent = {r["TrainingJobName"]: r for r in aws.sent("CreateTrainingJob")}
    assert sent[forest]["AlgorithmSpecification"]["MetricDefinitions"] == metric_definitions("forest")
    assert job["ResourceConfig"]["InstanceType"] == "ml.c5.xlarge"
    assert job["RoleArn"] == ROLE
    assert job["HyperParameters"]["model_type"] == "forest"
    assert job["HyperParameters"]["max_depth"] == "12"
    assert job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{BUCKET}/mlstest/data/forest/training/"
    assert has_our_tags(aws.tags(job["TrainingJobArn"]))

    cnn = aws.script("train.sh", "cnn", *common).stdout.strip()
    job = aws.cli("sagemaker", "describe-training-job", "--training-job-name", cnn)
    sent = {r["TrainingJobName"]: r for r in aws.sent("CreateTrainingJob")}
    assert sent[cnn]["AlgorithmSpecification"]["MetricDefinitions"] == metric_definitions("cnn")
    assert job["ResourceConfig"]["InstanceType"] == "ml.m5.large"
    assert job["EnableManagedSpotTraining"] is True
    assert job["CheckpointConfig"] == {"S3Uri": f"s3://{BUCKET}/mlstest/checkpoints/{cnn}/", "LocalPath": "/opt/ml/checkpoints"}
    assert job["StoppingCondition"]["MaxWaitTimeInSeconds"] >= job["StoppingCondition"]["MaxRuntimeInSeconds"]
    assert has_our_tags(aws.tags(job["TrainingJobArn"]))

    # Model + endpoint configuration + endpoint, instance-backed, from the training job's artifact.
    endpoint = aws.script("deploy-endpoint.sh", *common, "--training-job", forest, "--instance-type", "ml.c5.large").stdout.strip()
    model = aws.cli("sagemaker", "describe-model", "--model-name", f"{endpoint}-model")
    assert model["PrimaryContainer"]["Image"] == IMAGE
    assert model["PrimaryContainer"]["ModelDataUrl"].endswith("model.tar.gz")
    assert model["ExecutionRoleArn"] == ROLE
    assert has_our_tags(aws.tags(model["ModelArn"]))
    config = aws.cli("sagemaker", "describe-endpoint-config", "--endpoint-config-name", f"{endpoint}-config")
    variant = config["ProductionVariants"][0]
    assert variant["InstanceType"] == "ml.c5.large"
    assert variant["ModelName"] == f"{endpoint}-model"
    assert has_our_tags(aws.tags(config["EndpointConfigArn"]))
    ep = aws.cli("sagemaker", "describe-endpoint", "--endpoint-name", endpoint)
    assert ep["EndpointConfigName"] == f"{endpoint}-config"
    assert has_our_tags(aws.tags(ep["EndpointArn"]))

    # The serverless variant.
    serverless = aws.script("deploy-endpoint.sh", *common, "--model-data", f"s3://{BUCKET}/m/model.tar.gz",
                            "--serverless", "--memory", "3072", "--max-concurrency", "7").stdout.strip()  # fmt: skip
    config = aws.cli("sagemaker", "describe-endpoint-config", "--endpoint-config-name", f"{serverless}-config")
    assert config["ProductionVariants"][0]["ServerlessConfig"] == {"MemorySizeInMB": 3072, "MaxConcurrency": 7}
    assert "InstanceType" not in config["ProductionVariants"][0]

    # Target-tracking auto-scaling on invocations per instance.
    policy = aws.script("autoscale.sh", endpoint, *common, "--min", "1", "--max", "3", "--target", "750").stdout.strip()
    resource_id = f"endpoint/{endpoint}/variant/AllTraffic"
    targets = aws.cli("application-autoscaling", "describe-scalable-targets", "--service-namespace", "sagemaker")["ScalableTargets"]
    assert [(t["ResourceId"], t["ScalableDimension"], t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [
        (resource_id, "sagemaker:variant:DesiredInstanceCount", 1, 3)
    ]
    # moto drops RegisterScalableTarget's Tags and has no ListTagsForResource for it: check the request.
    sent_tags = aws.sent("RegisterScalableTarget")[0]["Tags"]
    assert has_our_tags(sent_tags), sent_tags
    policies = aws.cli("application-autoscaling", "describe-scaling-policies", "--service-namespace", "sagemaker")["ScalingPolicies"]
    assert [p["PolicyName"] for p in policies] == [policy]
    tracking = policies[0]["TargetTrackingScalingPolicyConfiguration"]
    assert policies[0]["PolicyType"] == "TargetTrackingScaling"
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    assert tracking["TargetValue"] == 750

    # Batch transform over the endpoint's model.
    transform = aws.script("batch-transform.sh", f"{endpoint}-model", *common).stdout.strip()
    tj = aws.cli("sagemaker", "describe-transform-job", "--transform-job-name", transform)
    assert tj["ModelName"] == f"{endpoint}-model"
    assert tj["BatchStrategy"] == "MultiRecord"
    assert tj["TransformInput"]["ContentType"] == "text/csv"
    assert tj["TransformInput"]["SplitType"] == "Line"
    assert tj["TransformOutput"]["Accept"] == "text/csv"
    assert tj["TransformOutput"]["AssembleWith"] == "Line"
    assert tj["TransformResources"]["InstanceType"] == "ml.m5.large"
    assert has_our_tags(aws.tags(tj["TransformJobArn"]))

    # Hyperparameter tuning of the forest on validation:auc.
    tuning = aws.script("tune.sh", *common).stdout.strip()
    assert len(tuning) <= 32
    hpo = aws.cli("sagemaker", "describe-hyper-parameter-tuning-job", "--hyper-parameter-tuning-job-name", tuning)
    cfg = hpo["HyperParameterTuningJobConfig"]
    assert cfg["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "validation:auc"}
    names = {r["Name"] for r in cfg["ParameterRanges"]["IntegerParameterRanges"]}
    assert {"n_estimators", "max_depth"} <= names
    definition = hpo["TrainingJobDefinition"]
    assert definition["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    metric_names = [m["Name"] for m in definition["AlgorithmSpecification"]["MetricDefinitions"]]
    assert "validation:auc" in metric_names
    assert definition["StaticHyperParameters"]["model_type"] == "forest"
    assert has_our_tags(aws.tags(hpo["HyperParameterTuningJobArn"]))

    # Teardown: everything billable of ours goes, and says so.
    result = aws.script("teardown.sh", *COMMON, "--yes")
    removed = result.stdout
    for line in (
        f"scaling-policy {policy}",
        f"scalable-target {resource_id}",
        f"endpoint {endpoint}",
        f"endpoint {serverless}",
        f"endpoint-config {endpoint}-config",
        f"endpoint-config {serverless}-config",
        f"model {endpoint}-model",
        f"model {serverless}-model",
    ):
        assert line in removed, (line, removed)
    assert aws.cli("sagemaker", "list-endpoints")["Endpoints"] == []
    assert aws.cli("sagemaker", "list-endpoint-configs")["EndpointConfigs"] == []
    assert sorted(m["ModelName"] for m in aws.cli("sagemaker", "list-models")["Models"]) == [
        "mlstest-prod-model",
        "otherproject-model",
    ]
    assert aws.cli("application-autoscaling", "describe-scalable-targets", "--service-namespace", "sagemaker")["ScalableTargets"] == []
    assert aws.cli("application-autoscaling", "describe-scaling-policies", "--service-namespace", "sagemaker")["ScalingPolicies"] == []
    assert not list(Path(aws.env["MLS_DEPLOY_STATE_DIR"]).glob("*.state")), "state file kept after a clean teardown"

    # A second teardown has nothing left to do.
    again = aws.script("teardown.sh", *COMMON, "--yes")
    assert "nothing to remove" in again.stderr


def test_teardown_finds_resources_by_tag_without_state(aws, tmp_path):
    """A lost state file does not strand an endpoint: the Project/Environment tags find it."""
    common = COMMON + ["--yes", "--endpoint-url", aws.url]
    endpoint = aws.script("deploy-endpoint.sh", *common, "--model-data", f"s3://{BUCKET}/m/model.tar.gz").stdout.strip()
    aws.script("autoscale.sh", endpoint, *common)
    for state in (tmp_path / "state").glob("*.state"):
        state.unlink()
    result = aws.script("teardown.sh", *common)
    assert f"endpoint {endpoint}" in result.stdout
    assert f"scalable-target endpoint/{endpoint}/variant/AllTraffic" in result.stdout
    assert aws.cli("sagemaker", "list-models")["Models"] == []
    assert aws.cli("application-autoscaling", "describe-scalable-targets", "--service-namespace", "sagemaker")["ScalableTargets"] == []


@pytest.mark.parametrize("flag", ["--endpoint-url", "AWS_ENDPOINT_URL"])
def test_endpoint_url_reaches_the_mock(aws, flag):
    args = ["push-ecr.sh", *COMMON, "--skip-push"]
    if flag == "--endpoint-url":
        args += ["--endpoint-url", aws.url]
    else:
        aws.env["AWS_ENDPOINT_URL"] = aws.url
    aws.script(*args)
    assert aws.cli("ecr", "describe-repositories")["repositories"][0]["repositoryName"] == "mls-deploy-test"
