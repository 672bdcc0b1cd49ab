"""`PowerControl` (`components/power.py`) under the mock engine: a lab's schedules, idle stop and parking;
hubs and the space always on and recovering by themselves (the gates' provider is in test_power_gates.py)."""

from __future__ import annotations

import json

import pulumi

from tests.conftest import containers_of, declared, of_type

POWER_GATE = "pulumi-python:dynamic/power:Gate"


@pulumi.runtime.test
def test_a_scheduled_lab_gets_start_and_stop_schedules_in_its_time_zone(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        lab1 = {r.name: r for r in of_type(registrations, "aws:scheduler/schedule:Schedule") if "-lab1-" in r.name}
        instance = next(r for r in of_type(registrations, "aws:ec2/instance:Instance") if "-lab1-" in r.name)
        assert set(lab1) == {"acme-lab1-host-power-period0-start", "acme-lab1-host-power-period0-stop"}
        start, stop = lab1["acme-lab1-host-power-period0-start"], lab1["acme-lab1-host-power-period0-stop"]
        assert start.inputs["scheduleExpression"] == "cron(0 8 ? * MON,TUE,WED,THU,FRI *)"
        assert stop.inputs["scheduleExpression"] == "cron(0 19 ? * MON,TUE,WED,THU,FRI *)"
        for schedule in (start, stop):
            assert schedule.inputs["scheduleExpressionTimezone"] == "Europe/Paris"
            assert schedule.inputs["flexibleTimeWindow"] == {"mode": "OFF"}
            assert schedule.inputs["state"] == "ENABLED"
            target = schedule.inputs["target"]
            assert json.loads(target["input"]) == {"InstanceIds": [instance.id]}
            assert target["retryPolicy"]["maximumRetryAttempts"] >= 1
        assert start.inputs["target"]["arn"] == "arn:aws:scheduler:::aws-sdk:ec2:startInstances"
        assert stop.inputs["target"]["arn"] == "arn:aws:scheduler:::aws-sdk:ec2:stopInstances"

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_the_scheduler_role_may_only_start_and_stop_its_own_instance(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        role = next(
            r for r in of_type(registrations, "aws:iam/role:Role") if r.name == "acme-lab1-host-power-scheduler"
        )
        trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert [s["Principal"] for s in trust] == [{"Service": "scheduler.amazonaws.com"}]
        assert trust[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
        policy = next(
            r
            for r in of_type(registrations, "aws:iam/rolePolicy:RolePolicy")
            if r.name.endswith("-lab1-host-power-scheduler-power")
        )
        statements = json.loads(policy.inputs["policy"])["Statement"]
        instance = next(r for r in of_type(registrations, "aws:ec2/instance:Instance") if "-lab1-" in r.name)
        assert statements == [
            {
                "Sid": "StartAndStopThisInstance",
                "Effect": "Allow",
                "Action": ["ec2:StartInstances", "ec2:StopInstances"],
                "Resource": instance.outputs["arn"],
            }
        ]

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_idle_stop_is_a_cpu_alarm_whose_action_stops_the_instance(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        alarm = next(
            r
            for r in of_type(registrations, "aws:cloudwatch/metricAlarm:MetricAlarm")
            if r.name.endswith("lab1-host-power-idle-stop")
        )
        instance = next(r for r in of_type(registrations, "aws:ec2/instance:Instance") if "-lab1-" in r.name)
        inputs = alarm.inputs
        assert (inputs["namespace"], inputs["metricName"]) == ("AWS/EC2", "CPUUtilization")
        assert inputs["dimensions"] == {"InstanceId": instance.id}
        assert inputs["comparisonOperator"] == "LessThanThreshold" and inputs["threshold"] == 5
        assert inputs["period"] * inputs["evaluationPeriods"] == 60 * 60
        assert inputs["alarmActions"] == ["arn:aws:automate:eu-west-3:ec2:stop"]
        assert inputs["actionsEnabled"] is True

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_hubs_and_the_space_are_never_scheduled_and_recover_automatically(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        schedules = of_type(registrations, "aws:scheduler/schedule:Schedule")
        assert schedules and not [s.name for s in schedules if "-hub-" in s.name or "-space-" in s.name]
        alarms = {r.name: r for r in of_type(registrations, "aws:cloudwatch/metricAlarm:MetricAlarm")}
        for server in ("hub", "space"):
            recover = alarms[f"acme-{server}-host-power-auto-recover"].inputs
            assert recover["metricName"] == "StatusCheckFailed_System"
            assert recover["alarmActions"] == ["arn:aws:automate:eu-west-3:ec2:recover"]
            assert not [name for name in alarms if name.startswith(f"acme-{server}-") and "idle" in name]
        gates = [r for r in of_type(registrations, POWER_GATE) if "-hub-" in r.name or "-space-" in r.name]
        assert len(gates) == 4 and {g.inputs["declared"] for g in gates} == {"running"}
        assert not [g for g in gates if g.inputs.get("schedule") or g.inputs.get("idle_stop")]

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_a_parked_lab_stays_stopped_and_its_schedules_never_fire(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        instance = next(r for r in of_type(registrations, "aws:ec2/instance:Instance") if "-lab2-" in r.name)
        gates = {r.inputs["role"]: r for r in of_type(registrations, POWER_GATE) if "-lab2-" in r.name}
        assert set(gates) == {"wake", "settle"}
        assert {(g.inputs["instance_id"], g.inputs["declared"]) for g in gates.values()} == {(instance.id, "stopped")}
        containers = {c.urn for c in containers_of(registrations, "lab2").values()}
        assert containers and containers <= set(gates["settle"].dependencies), "it is put back once deployed"
        lab2 = [s for s in of_type(registrations, "aws:scheduler/schedule:Schedule") if "-lab2-" in s.name]
        assert len(lab2) == 2 and all(s.inputs["state"] == "DISABLED" for s in lab2)
        volume = next(r for r in of_type(registrations, "aws:ebs/volume:Volume") if "-lab2-" in r.name)
        assert volume.protect and volume.retain_on_delete, "parking never touches the data"

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_weekly_hours_and_saving_are_exported_per_scheduled_lab(engine_for):
    engine = engine_for("acme-cloud")
    registrations = declared(engine)
    servers = pulumi.runtime.get_root_resource().outputs["servers"]  # type: ignore[union-attr]

    def check(values):
        _, exported = values
        assert (exported["lab1"]["weeklyRunningHours"], exported["lab1"]["savingPercent"]) == (55.0, 67.3)
        assert exported["lab2"]["state"] == "stopped"
        assert "weeklyRunningHours" not in exported["hub"]

    return pulumi.Output.all(registrations, servers).apply(check)
