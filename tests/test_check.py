"""`ops check`: the guardrails' report and exit code, and --policy-config (`offline/guardrails.py`'s pack
configuration) refused in one line when it is wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from offline import guardrails
from offline.engine import Registration
from offline.guardrails import PolicyConfigError, evaluate, load_config
from ops import common
from ops.cli import main
from policies.rules import ALL_RULES
from tests.conftest import BROKEN_PLATFORM, ROOT, STACK_NAMES, without_secrets

RULES = {rule.name: rule for rule in ALL_RULES}


def ops_check(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m ops check ...` in its own process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "ops", "check", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ops_check_prints_violations_by_resource_and_fails_on_mandatory(tmp_path: Path):
    passing = ops_check("--stack", "local")
    assert passing.returncode == 0, passing.stderr
    assert passing.stdout.strip() == f"local: all {len(ALL_RULES)} guardrails pass"
    config = tmp_path / "pack.json"
    config.write_text(json.dumps({"docker-restart-policy": {"enforcementLevel": "mandatory"},
                                  "ec2-allowed-instance-types": {"allowedInstanceTypes": ["x9.*"]}}))  # fmt: skip
    failing = ops_check("--stack", "acme-cloud", "--policy-config", str(config))
    assert failing.returncode == 1, failing.stderr
    out = failing.stdout
    assert out.startswith("acme-cloud: 4 mandatory and 0 advisory violation(s)")
    assert (
        "  acme-hub-host-server-instance (aws:ec2/instance:Instance)\n    [mandatory] ec2-allowed-instance-types:"
        in out
    )


def test_disabled_guardrails_are_never_counted_as_passing(tmp_path):
    def check_local(config: str) -> str:
        path = tmp_path / "pack.json"
        path.write_text(config)
        result = subprocess.run(
            [sys.executable, "-m", "ops", "check", "--stack", "local", "--policy-config", str(path)],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    expected = f"local: all {len(ALL_RULES) - 1} enabled guardrails pass (1 disabled)"
    assert check_local('{"s3-versioning-enabled": "disabled"}') == expected
    nothing = "local: nothing checked: the pack configuration disables every guardrail"
    assert check_local('{"all": "disabled"}') == nothing


INSTANCE = "aws:ec2/instance:Instance"


def instance(instance_type: str) -> Registration:
    return Registration(
        urn=f"urn:pulumi:s::constellab::{INSTANCE}::vm",
        type=INSTANCE,
        name="vm",
        parent="",
        custom=True,
        id="vm-id",
        provider="",
        protect=False,
        retain_on_delete=False,
        delete_before_replace=False,
        ignore_changes=[],
        dependencies=[],
        inputs={"instanceType": instance_type},
        outputs={},
    )


def config_file(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "pack.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ([1], 'a JSON object of rule names, e.g. {"all": "advisory"}, not an array'),
        (
            {"ec2-allowed-instance-type": {"allowedInstanceTypes": ["t3.*"]}},
            "unknown rule 'ec2-allowed-instance-type': did you mean 'ec2-allowed-instance-types'?",
        ),
        (
            {"docker-restart-policy": {"enforcementLevel": "warn"}},
            "docker-restart-policy: enforcementLevel: 'warn' is not an enforcement level: "
            "use one of advisory, mandatory, remediate, disabled",
        ),
        ({"docker-restart-policy": "warn"}, "docker-restart-policy: 'warn' is not an enforcement level"),
        ({"all": "strict"}, "all: 'strict' is not an enforcement level"),
        (
            {"ec2-allowed-instance-types": {"allowedInstanceTypes": "c5.*"}},
            "ec2-allowed-instance-types: allowedInstanceTypes must be an array, not the string 'c5.*' "
            '(e.g. ["t3.*", "t3a.*"])',
        ),
        (
            {"ec2-allowed-instance-types": {"allowedInstanceTypes": ["t3.*", 5]}},
            "ec2-allowed-instance-types: allowedInstanceTypes[1] must be a string, not the number 5",
        ),
        (
            {"ec2-admin-cidrs-narrow": {"minimumAdminPrefixLength": 0}},
            "ec2-admin-cidrs-narrow: minimumAdminPrefixLength must be at least 1, not 0 (e.g. 16)",
        ),
        (
            {"ec2-allowed-instance-types": {"allowedTypes": ["t3.*"]}},
            "ec2-allowed-instance-types: unknown key 'allowedTypes' (keys: enforcementLevel, allowedInstanceTypes)",
        ),
        ({"ec2-allowed-instance-types": 5}, "ec2-allowed-instance-types: give an enforcement level"),
        ({"all": {"allowedInstanceTypes": []}}, "all: only enforcementLevel applies to every rule"),
        ('{"all": "advisory", "all": "disabled"}', "'all' is given twice: keep one"),
        ("{bad", "not JSON: Expecting property name enclosed in double quotes (line 1, column 2)"),
    ],
    ids=[
        "list", "misspelled-rule", "warn-level", "warn-shorthand", "bad-all", "string-for-array",
        "number-in-array", "below-minimum", "unknown-key", "number-for-rule", "all-with-parameter",
        "duplicate-key", "bad-json",
    ],
)  # fmt: skip
def test_check_refuses_a_bad_policy_config_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: object, message: str
):
    assert main(["check", "--stack", "local", "--policy-config", str(config_file(tmp_path, content))]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --policy-config: ") and message in lines[0], lines


def test_check_refuses_a_missing_policy_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["check", "--stack", "local", "--policy-config", str(tmp_path / "nope.json")]) == 2
    assert capsys.readouterr().err == f"error: --policy-config: {tmp_path / 'nope.json'}: no such file\n"


def test_an_enforcement_level_alone_disables_or_changes_a_rule(tmp_path: Path):
    vm = [instance("p5.48xlarge")]
    rule = [RULES["ec2-allowed-instance-types"]]
    assert [v.level for v in evaluate(vm, rule)] == ["mandatory"]
    disabled = load_config(config_file(tmp_path, {"ec2-allowed-instance-types": "disabled"}))
    assert evaluate(vm, rule, disabled) == []
    advisory = load_config(config_file(tmp_path, {"ec2-allowed-instance-types": "advisory"}))
    assert [v.level for v in evaluate(vm, rule, advisory)] == ["advisory"]


def test_all_sets_every_rules_level_unless_the_rule_has_its_own(tmp_path: Path):
    config = load_config(
        config_file(tmp_path, {"all": "disabled", "aws-required-tags": {"enforcementLevel": "advisory"}})
    )
    assert config["ec2-allowed-instance-types"] == {"enforcementLevel": "disabled"}
    assert config["aws-required-tags"] == {"enforcementLevel": "advisory"}
    assert [v.rule for v in evaluate([instance("p5.48xlarge")], pack_config=config)] == ["aws-required-tags"]


def test_remediate_reports_as_mandatory_since_no_rule_remediates(tmp_path: Path):
    advisory = RULES["ec2-monitored-and-ebs-optimized"]
    assert {v.level for v in evaluate([instance("t3.large")], [advisory])} == {"advisory"}
    for given in ("remediate", {"enforcementLevel": "remediate"}):
        config = load_config(config_file(tmp_path, {advisory.name: given}))
        assert {v.level for v in evaluate([instance("t3.large")], [advisory], config)} == {"mandatory"}


def test_a_valid_parameter_is_passed_to_the_rule(tmp_path: Path):
    config = load_config(config_file(tmp_path, {"ec2-allowed-instance-types": {"allowedInstanceTypes": ["p5.*"]}}))
    assert evaluate([instance("p5.48xlarge")], [RULES["ec2-allowed-instance-types"]], config) == []


def test_an_empty_policy_config_file_configures_nothing(tmp_path: Path):
    assert load_config(config_file(tmp_path, "  \n")) == {}


def test_every_rule_schema_uses_only_keywords_the_config_check_understands():
    for rule in ALL_RULES:
        for key, schema in rule.config.items():
            unchecked = set(schema) - guardrails.SCHEMA_KEYWORDS
            assert not unchecked, f"{rule.name}.{key}: {unchecked} would not be checked in --policy-config"


def test_policy_config_errors_are_value_errors_so_the_cli_reports_them_as_usage_errors():
    assert issubclass(PolicyConfigError, ValueError)


def test_check_all_goes_on_past_a_broken_stack_and_over_one_whose_secrets_are_not_set(stacks_copy, monkeypatch, capsys):
    monkeypatch.setattr(common, "STACKS", stacks_copy)
    for stack in STACK_NAMES:
        if stack != "local":
            (stacks_copy / f"Pulumi.{stack}.yaml").unlink()
    without_secrets("acme-cloud", stacks_copy)
    (stacks_copy / "Pulumi.broken.yaml").write_text(BROKEN_PLATFORM)

    assert main(["check", "--all", "--format", "json"]) == 1
    captured = capsys.readouterr()
    assert sorted(json.loads(captured.out)) == ["acme-cloud", "local"], "both stacks that validate are checked"
    assert "customer: 'Bad' is not a DNS label" in captured.err
    assert captured.err.count("not set yet") == 1
    assert captured.err.strip().splitlines()[-1] == "error: 1 stack(s) not checked, their problems are above: broken"


def test_a_broken_stack_is_reported_under_its_path_as_given_not_the_absolute_one(stacks_copy, monkeypatch, capsys):
    monkeypatch.setattr(common, "STACKS", stacks_copy)
    monkeypatch.chdir(stacks_copy.parent)
    (stacks_copy / "Pulumi.broken.yaml").write_text(BROKEN_PLATFORM)
    assert main(["check", "--stack", "broken"]) == 1
    assert capsys.readouterr().err.startswith(f"{stacks_copy.name}/Pulumi.broken.yaml: ")


def budgeted(folder: Path, stack: str, monthly_usd: float, lab_instance_type: str | None = None) -> Path:
    """A copy of a shipped stack file with `budget: {monthlyUsd: <monthly_usd>}` (and its first lab's instance
    type changed, when given)."""
    import yaml

    document = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())
    document["config"]["constellab:platform"]["budget"] = {"monthlyUsd": monthly_usd}
    if lab_instance_type:
        document["config"]["constellab:platform"]["labs"][0]["placement"]["instanceType"] = lab_instance_type
    path = folder / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_a_stack_over_its_budget_is_advisory_with_the_estimate_and_the_fix_and_mandatory_when_configured(tmp_path):
    path = budgeted(tmp_path, "acme-cloud", 150)

    advisory = ops_check("--stack", str(path), "--format", "json")
    assert advisory.returncode == 0, advisory.stderr
    [violation] = [v for v in json.loads(advisory.stdout)["acme-cloud"] if v["rule"] == guardrails.BUDGET_RULE]
    # $305.46 (tests/test_cost.py::test_acme_cloud_by_hand) − $150 = $155.46 over
    assert violation["level"] == "advisory" and violation["urn"].endswith(
        "::pulumi:pulumi:Stack::constellab-acme-cloud"
    )
    assert violation["message"].startswith(
        "the estimate, $305.46/month, is over the budget of "
        "$150.00/month (budget.monthlyUsd) by $155.46: lower it (smaller instance types,"
    )
    assert "`ops cost --stack acme-cloud` shows every line) or raise budget.monthlyUsd" in violation["message"]
    config = tmp_path / "pack.json"
    config.write_text(json.dumps({guardrails.BUDGET_RULE: {"enforcementLevel": "mandatory"}}))
    mandatory = ops_check("--stack", str(path), "--policy-config", str(config))
    assert mandatory.returncode == 1, mandatory.stderr
    assert mandatory.stdout.startswith("acme-cloud: 1 mandatory and 0 advisory violation(s)")


def test_a_stack_within_its_budget_passes(tmp_path):
    # pharma-onprem declares nothing priced in AWS (its servers are on-prem): $0.00 a month, every price known
    path = budgeted(tmp_path, "pharma-onprem", 10)
    result = ops_check("--stack", str(path))
    assert result.returncode == 0, result.stderr
    # the budget is one more guardrail checked, and passing, beside the pack's
    assert result.stdout.strip() == f"pharma-onprem: all {len(ALL_RULES) + 1} guardrails pass"
    config = tmp_path / "pack.json"
    config.write_text('{"stack-within-budget": "disabled"}')
    disabled = ops_check("--stack", str(path), "--policy-config", str(config))
    assert disabled.stdout.strip() == f"pharma-onprem: all {len(ALL_RULES)} enabled guardrails pass (1 disabled)"
    # without a budget the rule does not apply: disabling it disables nothing the stack is checked by
    unbudgeted = ops_check("--stack", "pharma-onprem", "--policy-config", str(config))
    assert unbudgeted.stdout.strip() == f"pharma-onprem: all {len(ALL_RULES)} guardrails pass"


def test_an_estimate_below_the_budget_with_prices_unknown_says_it_is_a_lower_bound_and_is_never_mandatory(tmp_path):
    # c7i.metal-24xl passes validation for a scheduled lab (the c7i family) but the shipped table has no price for it
    path = budgeted(tmp_path, "acme-cloud", 1000, lab_instance_type="c7i.metal-24xl")
    config = tmp_path / "pack.json"
    config.write_text(json.dumps({guardrails.BUDGET_RULE: "mandatory"}))
    result = ops_check("--stack", str(path), "--policy-config", str(config), "--format", "json")
    assert result.returncode == 0, result.stderr
    [violation] = [v for v in json.loads(result.stdout)["acme-cloud"] if v["rule"] == guardrails.BUDGET_RULE]
    assert violation["level"] == "advisory"
    assert violation["message"].startswith(
        "the estimate, at least $260.46/month (1 price unknown: a lower bound), is below the budget of "
        "$1,000.00/month (budget.monthlyUsd), but it is a lower bound"
    )
    # $305.46 without lab1's t3.xlarge hours (238.333 h × $0.1888 = $45.00): $260.46, and the unknown hours
    over = ops_check("--stack", str(budgeted(tmp_path, "acme-cloud", 200, "c7i.metal-24xl")), "--format", "json")
    [violation] = [v for v in json.loads(over.stdout)["acme-cloud"] if v["rule"] == guardrails.BUDGET_RULE]
    assert (
        "the estimate, at least $260.46/month (1 price unknown: a lower bound), is already over" in violation["message"]
    )


def test_the_budget_rule_is_offline_only_yet_configurable_and_a_budget_must_be_positive():
    import pydantic

    from constellab.config import Budget

    assert guardrails.BUDGET_RULE not in RULES, "the CrossGuard pack has no prices: it cannot evaluate the budget"
    assert load_config_text('{"stack-within-budget": {"enforcementLevel": "mandatory"}}') == {
        "stack-within-budget": {"enforcementLevel": "mandatory"}
    }
    assert Budget.model_validate({"monthlyUsd": 250}).monthly_usd == 250
    for refused in (0, -5, True, "250", float("inf")):
        with pytest.raises(pydantic.ValidationError):
            Budget.model_validate({"monthlyUsd": refused})
    with pytest.raises(pydantic.ValidationError):
        Budget.model_validate({"monthlyUsd": 250, "currency": "EUR"})


def load_config_text(text: str) -> dict[str, dict[str, object]]:
    return guardrails.parse_config(json.loads(text), [*ALL_RULES, *guardrails.OFFLINE_RULES])
