"""Scheduling: hubs and the space are always on; schedules say which time zone they mean."""

from __future__ import annotations

from pulumi_policy import PolicyResource, ReportViolation, ResourceValidationArgs, StackValidationArgs

from .common import Rule, as_list, depends_on, dig, of_type, report, tags_of

INSTANCE = "aws:ec2/instance:Instance"
SCHEDULE = "aws:scheduler/schedule:Schedule"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
POWER_GATE = "pulumi-python:dynamic/power:Gate"
"""`components.power_gate.PowerGate`: what an `up` leaves the server in (`declared`)."""
ALWAYS_ON = ("hub", "space")


def _stops(resource: PolicyResource) -> bool:
    if resource.resource_type == SCHEDULE:
        return str(dig(resource.props, "target", "arn", default="")).endswith("ec2:stopInstances")
    if resource.resource_type == ALARM:
        return any(str(action).endswith(":ec2:stop") for action in as_list(resource.props.get("alarmActions")))
    return resource.resource_type == POWER_GATE and resource.props.get("declared") == "stopped"


def always_on_never_stopped(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for resource in of_type(args.resources, SCHEDULE, ALARM, POWER_GATE):
        if not _stops(resource):
            continue
        for instance in depends_on(resource, INSTANCE):
            role = tags_of(instance).get("constellab:role")
            if role in ALWAYS_ON:
                report(
                    report_violation,
                    resource.name,
                    resource.resource_type,
                    f"stops {instance.name}, a {role} that must stay on",
                    "remove the schedule, idle stop or stopped state from hubs and the space",
                    resource.urn,
                )


def schedules_set_time_zone(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != SCHEDULE:
        return
    if str(args.props.get("scheduleExpression", "")).startswith("cron(") and not args.props.get(
        "scheduleExpressionTimezone"
    ):
        report(
            report_violation,
            args.name,
            args.resource_type,
            "the cron expression is read in UTC",
            "set scheduleExpressionTimezone to the lab's IANA time zone",
        )


def schedules_fire_on_time(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type == SCHEDULE and dig(args.props, "flexibleTimeWindow", "mode") != "OFF":
        report(
            report_violation,
            args.name,
            args.resource_type,
            "a flexible window lets the start or stop drift",
            'set flexibleTimeWindow.mode to "OFF"',
        )


RULES = [
    Rule(
        "scheduling-always-on-servers-never-stopped",
        "No stop schedule, idle stop or stopped state on a hub or the space",
        "mandatory",
        always_on_never_stopped,
        scope="stack",
    ),
    Rule("scheduling-time-zone-set", "Schedules set their time zone", "mandatory", schedules_set_time_zone),
    Rule("scheduling-flexible-window-off", "Start and stop schedules fire on time", "advisory", schedules_fire_on_time),
]
