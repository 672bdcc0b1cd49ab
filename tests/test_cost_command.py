"""`ops cost`, as a user runs it: the shipped stacks priced with the shipped table, as text, JSON and Markdown."""

from __future__ import annotations

import json

from ops import common
from ops.cli import main
from tests.conftest import BROKEN_PLATFORM


def test_cost_prints_each_server_its_lines_and_the_stack_total(capsys):
    assert main(["cost", "--stack", "acme-cloud"]) == 0
    out = capsys.readouterr().out
    # every fixed cost has an eu-west-3 price (test_cost.py adds the total up by hand)
    assert out.startswith("acme-cloud (eu-west-3): $305.46/month\n")
    # 44.997 (instance) + 230 GB × $0.0928 = 21.344 (gp3) + 3.65 (address) + 0.10 (alarm) + 0.6856 (metrics) = 70.777
    assert "  lab1 [lab, cloud, scheduled + idle stop]: $70.78/month\n" in out
    # 7 metrics × 238.333 h / 730 h = 2.29 metric-months × $0.30 = $0.69
    assert "CloudWatch detailed monitoring (7 metrics)" in out and "2.29 metric-month × $0.3/metric-month" in out
    assert "    hours: scheduled: 55 h/week × 52/12 = 238.33 h/month (idle stop may run it less)" in out
    assert "238.33 h × $0.1888/h" in out and "$45.00" in out
    assert "schedule: 238.33 h/month instead of 730, saves $94.24/month" in out
    assert "parked: no instance hours instead of 730, saves $71.60/month" in out
    assert "30 GB-month × $0.0928/GB-month" in out and "$2.78" in out  # a root volume: 30 × 0.0928 = 2.784
    assert "S3 Standard storage (3 buckets)" in out and "depends on usage, $0.024/GB-month" in out
    assert "depends on usage, $0.0053/1,000 requests" in out and "depends on usage, $0.00042/1,000 requests" in out
    assert "Data transfer out to the internet" in out and "$0.09/GB" in out
    # AWS prices the Scheduler per region and the table has no eu-west-3 price: said, never guessed
    assert "EventBridge Scheduler invocations (2 schedules)" in out and "unit price unknown" in out


def test_cost_json_holds_every_stack(capsys):
    assert main(["cost", "--all", "--format", "json"]) == 0
    captured = capsys.readouterr()
    stacks = {stack["stack"]: stack for stack in json.loads(captured.out)["stacks"]}
    assert {name: stack["monthlyUsd"] for name, stack in stacks.items()} == {
        "acme-cloud": 305.46,
        "biolab-hybrid": 144.54,
        "local": 0,
        "pharma-onprem": 0.0,
    }
    assert "previewing [4/4]" in captured.err  # progress, on stderr, when there are several stacks


def test_cost_markdown_has_a_table_with_a_bar_per_stack_and_per_server(capsys):
    assert main(["cost", "--stack", "acme-cloud", "--stack", "biolab-hybrid", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "| acme-cloud | eu-west-3 | $305.46 | 0 | ████████████████████ |" in out
    assert "| biolab-hybrid | eu-central-1 | $144.54 | 0 | █████████ |" in out  # 144.54 / 305.46 × 20 = 9.5
    # hub: 81.76 + 2.78 + 46.40 (30 + 500 GB × $0.0928) + 3.65 + 0.10 + 2.10 = 136.79, the largest server: a full bar
    assert "| hub | always on | 730 | $136.79 | 0 | ████████████████████ |" in out
    assert "| lab1 | scheduled + idle stop | 238.33 | $70.78 | 0 | ██████████ |" in out  # 70.78 / 136.79 × 20 = 10.3
    assert "- **lab1**: schedule: 238.33 h/month instead of 730, saves $94.24/month" in out


def test_a_price_table_that_is_not_one_is_a_usage_error_before_any_work(tmp_path, capsys):
    bad = tmp_path / "prices.json"
    bad.write_text('{"schema": 7}')
    assert main(["cost", "--stack", "local", "--prices", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == f"error: --prices: {bad}: not a price table of schema 1 (schema: 7)"


def test_one_broken_stack_is_reported_and_the_others_are_priced(stacks_copy, monkeypatch, capsys):
    monkeypatch.setattr(common, "STACKS", stacks_copy)
    for path in stacks_copy.glob("Pulumi.*.yaml"):
        if path.name != "Pulumi.local.yaml":
            path.unlink()
    (stacks_copy / "Pulumi.broken.yaml").write_text(BROKEN_PLATFORM)
    assert main(["cost", "--all", "--format", "json"]) == 1
    captured = capsys.readouterr()
    assert [stack["stack"] for stack in json.loads(captured.out)["stacks"]] == ["local"]
    assert captured.err.strip().splitlines()[-1] == "error: 1 stack(s) not priced, their problems are above: broken"
