"""PowerControl: when a cloud server runs. Labs follow a schedule, stop when idle, or stay parked;
hubs and the space are always on and recover by themselves from a failed host."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import pulumi

from constellab import schedule
from constellab.aws import iam
from constellab.config import IdleStop, Schedule

RETRY_ATTEMPTS = 5
RETRY_MAX_AGE_SECONDS = 3600


@dataclass(frozen=True)
class PowerControlArgs:
    """Arguments of `PowerControl`."""

    server_name: str
    role: Literal["lab", "hub", "space"]
    instance_id: pulumi.Input[str]
    instance_arn: pulumi.Input[str]
    tags: dict[str, str]
    schedule: Schedule | None = None
    idle_stop: IdleStop | None = None
    state: Literal["running", "stopped"] = "running"
    """A parked lab (`stopped`) keeps its schedules and idle alarm, disabled; its `PowerGate`s stop it."""


class PowerControl(pulumi.ComponentResource):
    """EventBridge schedules and an idle-stop alarm for a lab; an auto-recover alarm otherwise. (What an `up`
    does to the power is `PowerGate`'s.)

    Stopping never touches the data volume, the Elastic IP or the DNS records.
    """

    def __init__(self, name: str, args: PowerControlArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:power:PowerControl", name, None, opts)
        import pulumi_aws as aws  # only stacks with cloud servers pay for importing it

        retries = aws.scheduler.ScheduleTargetRetryPolicyArgs(
            maximum_retry_attempts=RETRY_ATTEMPTS, maximum_event_age_in_seconds=RETRY_MAX_AGE_SECONDS
        )
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        partition = aws.get_partition_output(opts=invoke).partition
        region = aws.get_region_output(opts=invoke).region
        outputs: dict[str, object] = {}

        if args.role != "lab":
            aws.cloudwatch.MetricAlarm(
                f"{name}-auto-recover",
                alarm_description=f"Recover {args.server_name} onto healthy hardware when the host fails",
                namespace="AWS/EC2",
                metric_name="StatusCheckFailed_System",
                dimensions={"InstanceId": args.instance_id},
                statistic="Maximum",
                period=60,
                evaluation_periods=2,
                threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold",
                alarm_actions=[self._action(partition, region, "recover")],
                tags=args.tags,
                opts=child,
            )
            self.outputs = outputs
            self.register_outputs({})
            return

        parked = args.state == "stopped"
        if args.schedule is not None:
            account = aws.get_caller_identity_output(opts=invoke).account_id
            role = aws.iam.Role(
                f"{name}-scheduler",
                assume_role_policy=account.apply(lambda a: iam.to_json(iam.scheduler_trust_policy(a))),
                tags=args.tags,
                opts=child,
            )
            aws.iam.RolePolicy(
                f"{name}-scheduler-power",
                role=role.id,
                policy=pulumi.Output.from_input(args.instance_arn).apply(
                    lambda arn: iam.to_json(iam.power_policy(arn))
                ),
                opts=child,
            )
            target_input = pulumi.Output.from_input(args.instance_id).apply(
                lambda instance: json.dumps({"InstanceIds": [instance]})
            )
            for index, period in enumerate(args.schedule.periods):
                for action, expression, target in zip(
                    ("start", "stop"),
                    schedule.cron_expressions(period),
                    (iam.START_TARGET, iam.STOP_TARGET),
                    strict=True,
                ):
                    aws.scheduler.Schedule(
                        f"{name}-period{index}-{action}",
                        description=f"{action.capitalize()} {args.server_name}: {','.join(period.days)} "
                        f"{period.start}-{period.stop} {args.schedule.timezone}",
                        schedule_expression=expression,
                        schedule_expression_timezone=args.schedule.timezone,
                        flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
                        state="DISABLED" if parked else "ENABLED",
                        target=aws.scheduler.ScheduleTargetArgs(
                            arn=target, role_arn=role.arn, input=target_input, retry_policy=retries
                        ),
                        opts=child,
                    )
            usage = schedule.weekly_usage(args.schedule, schedule.REFERENCE_WEEK)
            # A parked lab keeps its schedule, disabled: it runs no hour at all.
            hours = 0.0 if parked else usage.running_hours
            saving = 100.0 if parked else usage.saving_percent
            outputs |= {"weeklyRunningHours": hours, "savingPercent": saving}

        if args.idle_stop is not None:
            aws.cloudwatch.MetricAlarm(
                f"{name}-idle-stop",
                alarm_description=f"Stop {args.server_name} after {args.idle_stop.minutes} min below "
                f"{args.idle_stop.cpu_below_percent}% CPU",
                namespace="AWS/EC2",
                metric_name="CPUUtilization",
                dimensions={"InstanceId": args.instance_id},
                statistic="Average",
                period=60,  # detailed monitoring gives one-minute points
                evaluation_periods=args.idle_stop.minutes,
                threshold=args.idle_stop.cpu_below_percent,
                comparison_operator="LessThanThreshold",
                # A stopped instance sends no data: that must not count as busy or idle.
                treat_missing_data="ignore",
                actions_enabled=not parked,
                alarm_actions=[self._action(partition, region, "stop")],
                tags=args.tags,
                opts=child,
            )

        self.outputs = outputs
        self.register_outputs(outputs)

    @staticmethod
    def _action(
        partition: pulumi.Output[str], region: pulumi.Output[str], action: Literal["stop", "recover"]
    ) -> pulumi.Output[str]:
        return pulumi.Output.all(partition, region).apply(lambda found: iam.alarm_action(found[0], found[1], action))
