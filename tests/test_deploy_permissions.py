"""The deploy identity's policy: the shipped document, and the program it must cover under the mock engine."""

from __future__ import annotations

import ast
import inspect
import json
import re
import textwrap

import pulumi
import pytest
import yaml

from constellab import deploy_permissions as permissions
from offline.engine import RecordingMocks, Registration
from tests.conftest import ROOT, STACK_NAMES, STACKS, declared

PULUMI_AUTO_NAME_SUFFIX = "-0a1b2c3"
"""What Pulumi appends to a logical name it auto-names an AWS resource with: a dash and 7 random characters."""
ACTION = re.compile(r"^[a-z0-9-]+:[A-Z][A-Za-z0-9]+$")
"""`service:Action`, spelled out: no wildcard anywhere."""


def aws_resources(registrations: list[Registration]) -> list[Registration]:
    """The resources that call AWS: the AWS provider's (not the provider itself), and the program's power gates."""
    return [
        r
        for r in registrations
        if r.custom
        and (r.type.startswith("aws:") or r.type == permissions.POWER_GATE)
        and r.type != "pulumi:providers:aws"
    ]


def lookups_the_mocks_answer() -> set[str]:
    """Every token `RecordingMocks.call` compares `token` with: the lookups the program can make offline."""
    source = textwrap.dedent(inspect.getsource(RecordingMocks.call))
    return {
        comparator.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == "token"
        for comparator in node.comparators
        if isinstance(comparator, ast.Constant) and isinstance(comparator.value, str)
    }


def names_touched(registration: Registration, entry: permissions.ResourcePermissions) -> list[tuple[str, str]]:
    """(input, name) for each input that names what the entry's scoped actions act on."""
    found = []
    for key in entry.named_by:
        value = registration.inputs.get(key)
        if value is None and key == "name":
            value = registration.name + PULUMI_AUTO_NAME_SUFFIX
        if value is not None:
            found.append((key, str(value)))
    return found


def document_statements() -> list[dict]:
    return json.loads(permissions.render())["Statement"]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


# ---------------------------------------------------------------------------------------------
# The shipped document
# ---------------------------------------------------------------------------------------------


def test_the_shipped_policy_document_is_the_rendering_of_the_table():
    assert (ROOT / "deploy" / "iam-deploy-policy.json").read_text() == permissions.render()
    assert permissions.main(["--check"]) == 0


def test_check_fails_naming_the_file_and_the_fix_when_the_document_is_stale_or_missing(tmp_path, capsys):
    stale = tmp_path / "iam-deploy-policy.json"
    stale.write_text(permissions.render().replace('"ec2:RunInstances",\n', ""))
    assert permissions.main(["--check", "--file", str(stale)]) == 1
    message = capsys.readouterr().err
    assert f"{stale} is out of date" in message
    assert "python -m constellab.deploy_permissions --write" in message

    assert permissions.main(["--check", "--file", str(tmp_path / "absent.json")]) == 1
    assert "is missing" in capsys.readouterr().err

    assert permissions.main(["--write", "--file", str(stale)]) == 0
    assert permissions.main(["--check", "--file", str(stale)]) == 0


def test_the_document_has_the_shape_iam_accepts_and_fits_a_managed_policy():
    document = json.loads(permissions.render())
    assert document["Version"] == "2012-10-17"
    sids = [statement["Sid"] for statement in document["Statement"]]
    assert len(sids) == len(set(sids)), "Sids are unique"
    for statement in document["Statement"]:
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}
        assert re.fullmatch(r"[A-Za-z0-9]+", statement["Sid"])
        assert statement["Effect"] == "Allow"
        actions = as_list(statement["Action"])
        assert actions and all(ACTION.match(action) for action in actions), statement["Sid"]
        assert actions == sorted(set(actions)), "actions sorted, once each"
        resources = as_list(statement["Resource"])
        assert resources and all(r == "*" or r.startswith("arn:") for r in resources), statement["Sid"]
    assert permissions.quota_size(permissions.render()) <= permissions.MANAGED_POLICY_MAX_CHARS


def test_the_alarm_actions_service_linked_role_may_be_created_and_no_other():
    granting = [s for s in document_statements() if "iam:CreateServiceLinkedRole" in as_list(s["Action"])]
    assert len(granting) == 1
    (statement,) = granting
    assert as_list(statement["Action"]) == ["iam:CreateServiceLinkedRole"]
    assert statement["Condition"] == {"StringEquals": {"iam:AWSServiceName": "events.amazonaws.com"}}
    assert statement["Resource"].endswith(
        ":role/aws-service-role/events.amazonaws.com/AWSServiceRoleForCloudWatchEvents"
    )


def test_the_alarm_actions_ec2_calls_are_granted_as_put_metric_alarm_asks():
    """PutMetricAlarm's API reference: a status-check alarm, a stop action (idle stop), a recover action."""
    granted = {action for statement in document_statements() for action in as_list(statement["Action"])}
    assert {
        "ec2:DescribeInstanceStatus",
        "ec2:DescribeInstances",
        "ec2:StopInstances",
        "ec2:DescribeInstanceRecoveryAttribute",
        "ec2:RecoverInstances",
    } <= granted


def test_the_program_s_roles_are_passed_only_to_the_service_each_is_for():
    passing = {
        s["Condition"]["StringEquals"]["iam:PassedToService"]: as_list(s["Resource"])
        for s in document_statements()
        if "iam:PassRole" in as_list(s["Action"])
    }
    assert passing == {
        "ec2.amazonaws.com": ["arn:*:iam::*:role/*-identity-role-*"],
        "scheduler.amazonaws.com": ["arn:*:iam::*:role/*-power-scheduler-*"],
    }
    for statement in document_statements():
        if "iam:PassRole" in as_list(statement["Action"]):
            assert as_list(statement["Action"]) == ["iam:PassRole"]


def test_iam_s3_alarms_and_schedules_are_limited_to_the_program_s_names():
    unscoped = {
        action
        for statement in document_statements()
        if statement["Resource"] == "*"
        for action in as_list(statement["Action"])
    }
    assert {action.split(":")[0] for action in unscoped} == {"ec2", "cloudwatch", "sts"}
    assert unscoped & {"cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"} == set()


def test_data_is_never_deletable_by_the_deploy_identity():
    actions = {action for statement in document_statements() for action in as_list(statement["Action"])}
    assert {"s3:DeleteBucket", "ec2:DeleteVolume", "s3:DeleteObject"} & actions == set()
    for entry in permissions.RESOURCES:
        if entry.retained:
            assert entry.delete == (), entry.token


def test_every_table_entry_is_a_resource_type_the_components_declare():
    sources = "".join(path.read_text() for path in sorted((ROOT / "components").glob("*.py")))
    unused = []
    for token in permissions.RESOURCE_PERMISSIONS:
        if token == permissions.POWER_GATE:
            if 'class PowerGate(pulumi.dynamic.Resource, module="power", name="Gate")' not in sources:
                unused.append(token)
            continue
        module, kind = token.split(":")[1].split("/")[0], token.split(":")[2]
        if f"aws.{module}.{kind}(" not in sources:
            unused.append(token)
    assert unused == [], "permissions for types nothing declares any more: remove them from the table"
    assert len(permissions.RESOURCE_PERMISSIONS) == len(permissions.RESOURCES), "one entry per type"


def test_every_lookup_the_mocks_answer_has_permissions_and_no_other():
    answered = lookups_the_mocks_answer()
    assert "aws:ec2/getAmi:getAmi" in answered, "the mocks' lookups were found"
    missing = sorted(answered - set(permissions.LOOKUP_PERMISSIONS))
    assert missing == [], f"lookups without permissions: add them to deploy_permissions.LOOKUPS: {missing}"
    assert sorted(set(permissions.LOOKUP_PERMISSIONS) - answered) == [], "lookups the program cannot make"


def test_the_state_backend_and_secrets_provider_need_no_aws_permission():
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert "backend" not in project, "an S3 backend needs its own statement in deploy_permissions"
    for stack in sorted(STACKS.glob("Pulumi.*.yaml")):
        provider = str((yaml.safe_load(stack.read_text()) or {}).get("secretsprovider", ""))
        assert not provider.startswith("awskms://"), f"{stack.name}: a KMS secrets provider needs its own statement"
    deploy = (ROOT / ".github" / "workflows" / "deploy.yml").read_text()
    assert "PULUMI_ACCESS_TOKEN" in deploy and "s3://" not in deploy, "the state is in Pulumi Cloud"


def test_the_deploy_workflow_names_the_document_and_fails_on_a_stale_one():
    text = (ROOT / ".github" / "workflows" / "deploy.yml").read_text()
    workflow = yaml.safe_load(text)
    assert "deploy/iam-deploy-policy.json" in text
    runs = [str(step.get("run", "")) for job in workflow["jobs"].values() for step in job["steps"]]
    assert any("-m constellab.deploy_permissions --check" in run for run in runs)


# ---------------------------------------------------------------------------------------------
# Against what each shipped stack declares
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACK_NAMES)
@pulumi.runtime.test
def test_every_aws_resource_type_a_stack_declares_has_permissions(engine_for, stack):
    engine = engine_for(stack)

    def check(registrations):
        declared_types = {r.type for r in aws_resources(registrations)}
        missing = sorted(declared_types - set(permissions.RESOURCE_PERMISSIONS))
        assert missing == [], f"resource types without permissions: add them to deploy_permissions.RESOURCES: {missing}"

    return declared(engine).apply(check)


@pytest.mark.parametrize("stack", STACK_NAMES)
@pulumi.runtime.test
def test_every_lookup_a_stack_makes_has_permissions(engine_for, stack):
    engine = engine_for(stack)

    def check(_registrations):
        made = {call.token for call in engine.mocks.calls}
        missing = sorted(made - set(permissions.LOOKUP_PERMISSIONS))
        assert missing == [], f"lookups without permissions: add them to deploy_permissions.LOOKUPS: {missing}"

    return declared(engine).apply(check)


@pytest.mark.parametrize("stack", STACK_NAMES)
@pulumi.runtime.test
def test_every_name_a_stack_gives_is_within_the_scoped_statements(engine_for, stack):
    engine = engine_for(stack)

    def check(registrations):
        outside, unnamed = [], []
        for registration in aws_resources(registrations):
            entry = permissions.RESOURCE_PERMISSIONS.get(registration.type)
            if entry is None or not entry.named_by:
                continue
            names = names_touched(registration, entry)
            if not names:
                unnamed.append(registration.name)
            outside += [(registration.name, key, name) for key, name in names if not entry.scope.covers(name)]
        assert unnamed == [], "scoped resources whose names the test cannot see"
        assert outside == [], "names the deploy role may not touch: widen the scope or rename the resource"

    return declared(engine).apply(check)


@pytest.mark.parametrize("stack", STACK_NAMES)
@pulumi.runtime.test
def test_types_granted_no_delete_are_protected_and_retained_on_delete(engine_for, stack):
    engine = engine_for(stack)

    retained_types = {entry.token for entry in permissions.RESOURCES if entry.retained}

    def check(registrations):
        deletable = [
            r.name
            for r in aws_resources(registrations)
            if r.type in retained_types and not (r.protect and r.retain_on_delete)
        ]
        assert deletable == [], "Pulumi would delete these, and the deploy role may not"

    return declared(engine).apply(check)


# ---------------------------------------------------------------------------------------------
# AWS's own validation, emulated
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_iam_as_moto_emulates_it_accepts_the_document_for_a_deploy_role(monkeypatch):
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    for variable in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with moto.mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        policy = iam.create_policy(PolicyName="constellab-deploy", PolicyDocument=permissions.render())["Policy"]
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        iam.create_role(RoleName="constellab-deploy", AssumeRolePolicyDocument=json.dumps(trust))
        iam.attach_role_policy(RoleName="constellab-deploy", PolicyArn=policy["Arn"])
        version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
        assert version["PolicyVersion"]["Document"] == permissions.policy_document()
