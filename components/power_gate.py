"""PowerGate: a cloud server woken before its deployment steps, and put back in its declared state after.

A stopped server breaks every step that reaches it (Docker over SSH: "Error pinging Docker server"), and
a state declared once (`aws.ec2transitgateway.InstanceState`) holds only until someone starts or stops
the server by hand: without a refresh, the next `up` sees no difference. These gates read the
instance's real state in their diff, which the engine calls on every preview and every `up`:
- `wake` (before the host's preparation, its Docker provider and its configuration) starts the server
  when something is to be deployed on it (its deployment fingerprint changed) or when it must run now;
- `settle` (after them) stops or starts it to match its declaration at that moment
  (`power_state.desired_state`), and stops it again if `wake` started it for nothing it must run for.
The preview says which gate acts, from the real state. Removing a gate changes nothing on the server.

The gates are dynamic resources (Pulumi runs their provider in the program's own Python, with the
program's AWS credentials); they call the EC2 API through `constellab.aws.ec2_power`.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

import sdk_internals
from constellab import power_state, server_ready, ssh_options
from constellab.aws import ec2_power
from constellab.config import IdleStop, Schedule

Role = Literal["wake", "settle"]
TIMEOUT_SECONDS = 600.0
POLL_SECONDS = 5.0
_UNKNOWN = sdk_internals.UNKNOWN
"""How the engine hands a dynamic provider a value not known yet (a preview of a changing input)."""


@dataclass(frozen=True)
class PowerGateArgs:
    """Arguments of `PowerGate`."""

    role: Role
    server_name: str
    region: str
    instance_id: pulumi.Input[str]
    declared: Literal["running", "stopped"] = "running"
    schedule: Schedule | None = None
    idle_stop: IdleStop | None = None
    fingerprint: pulumi.Input[str] | None = None
    """`wake`: the digest of everything deployed on the server (`power_state.fingerprint`)."""
    woken_at: pulumi.Input[str] | None = None
    """`settle`: the `wake` gate's `woken_at` output (when it last started the server)."""
    ssh_destination: pulumi.Input[str] | None = None
    """`wake`: `user@address` of the server, where it waits after starting it until Docker answers."""


def _desired(props: dict[str, Any], now: dt.datetime) -> power_state.Desired:
    schedule = Schedule.model_validate_json(props["schedule"]) if props.get("schedule") else None
    return power_state.desired_state(props["declared"], schedule, bool(props.get("idle_stop")), now)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class PowerGateProvider(ResourceProvider):
    """The gates' CRUD: the instance's state is read from EC2 at every diff.

    `clock` is the current time (UTC) the declaration is read at; a test may fix it.
    """

    def __init__(
        self, clock: Callable[[], dt.datetime] | None = None, ready: Callable[[str, str], object] | None = None
    ) -> None:
        super().__init__()
        self.clock = clock
        self.ready = ready
        """Waits until a started server takes Docker calls (destination, label); a test may replace it."""

    def _now(self) -> dt.datetime:
        return self.clock() if self.clock is not None else dt.datetime.now(dt.UTC)

    def _ec2(self, props: dict[str, Any]) -> Any:
        return ec2_power.client(props["region"])

    def _needs_action(self, olds: dict[str, Any], news: dict[str, Any]) -> bool:
        if any(value == _UNKNOWN for value in news.values()):
            return True  # known at `up` only: the preview says it may act
        actual = ec2_power.state_of(self._ec2(news), news["instance_id"])
        desired = _desired(news, self._now())
        if news["role"] == "wake":
            changed = news.get("fingerprint") != olds.get("fingerprint")
            return power_state.wake_needed(actual, desired, changed)
        woken = bool(news.get("woken_at")) and news.get("woken_at") != olds.get("woken_at")
        return power_state.settle_action(actual, desired, woken) is not None

    def _act(self, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        ec2 = self._ec2(news)
        instance, label = news["instance_id"], news["server_name"]
        actual = ec2_power.state_of(ec2, instance)
        desired = _desired(news, self._now())
        outs = {key: value for key, value in news.items() if not key.startswith("__")}
        if news["role"] == "wake":
            changed = news.get("fingerprint") != olds.get("fingerprint")
            outs["woken_at"] = olds.get("woken_at", "")
            if power_state.wake_needed(actual, desired, changed):
                _progress(f"{label} is {actual}: starting it to deploy on it")
                ec2_power.start(ec2, instance, TIMEOUT_SECONDS, POLL_SECONDS, _progress, label)
                if news.get("ssh_destination"):
                    self._wait_ready(str(news["ssh_destination"]), label)
                outs["woken_at"] = dt.datetime.now(dt.UTC).isoformat()
            return outs
        woken = bool(news.get("woken_at")) and news.get("woken_at") != olds.get("woken_at")
        action = power_state.settle_action(actual, desired, woken)
        if action == "stop":
            _progress(f"{label} is {actual} and declared {desired}: stopping it")
            ec2_power.stop(ec2, instance, TIMEOUT_SECONDS, POLL_SECONDS, _progress, label)
        elif action == "start":
            _progress(f"{label} is {actual} and declared running: starting it")
            ec2_power.start(ec2, instance, TIMEOUT_SECONDS, POLL_SECONDS, _progress, label)
        return outs

    def _wait_ready(self, destination: str, label: str) -> None:
        if self.ready is not None:
            self.ready(destination, label)
            return
        ssh_options.ensure_control_directory()
        server_ready.wait_ready(
            destination,
            ssh_options.docker_options(cloud=True),
            label=label,
            timeout=TIMEOUT_SECONDS,
            poll=POLL_SECONDS,
            progress=_progress,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{props['instance_id']}-{props['role']}", self._act({}, props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # `olds` are the outputs the last update recorded: an unchanged gate keeps them as they are (a same
        # step). So any new input (a fingerprint, a wake time) is an update, even with nothing to do, or the
        # next `up` would compare against a stale one and wake or stop the server for nothing.
        outputs_only = ("woken_at",) if news.get("role") == "wake" else ()  # the wake gate sets it
        tracked = {key: value for key, value in news.items() if not key.startswith("__") and key not in outputs_only}
        recorded = {key: olds.get(key) for key in tracked}
        if tracked != recorded:
            return DiffResult(changes=True)
        return DiffResult(changes=self._needs_action(olds, news))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._act(olds, news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # a removed gate leaves the server as it is


class PowerGate(pulumi.dynamic.Resource, module="power", name="Gate"):
    """One gate of a cloud server's power (type `pulumi-python:dynamic/power:Gate`)."""

    woken_at: pulumi.Output[str]

    def __init__(self, name: str, args: PowerGateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {
            "role": args.role,
            "server_name": args.server_name,
            "region": args.region,
            "instance_id": args.instance_id,
            "declared": args.declared,
            "schedule": args.schedule.model_dump_json(by_alias=True) if args.schedule else None,
            "idle_stop": args.idle_stop is not None,
            "fingerprint": args.fingerprint,
            # `settle`'s input; `wake` sets it when it starts the server.
            "woken_at": args.woken_at,
            "ssh_destination": args.ssh_destination,
        }
        super().__init__(PowerGateProvider(), name, props, opts)
