"""A cloud server's power during an `up`: woken before its deployment steps, put back after.

Under mocks: where the gates stand in the program and what they are given. Against a real AWS API
emulator (moto's server): what the gates' provider reads and does, as the engine calls it on a preview
(`diff`) and an `up` (`update`), for the servers the issue names: a lab its schedule stopped, a parked
lab someone started by hand, an un-parked lab, a hub found stopped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
from typing import Any

import pulumi
import pytest

from components.power_gate import PowerGateProvider
from constellab.aws import ec2_power
from constellab.config import Schedule
from tests.aws_emulator import REGION, aws, launch, moto_endpoint
from tests.conftest import containers_of, declared, of_type

__all__ = ["aws", "moto_endpoint"]  # fixtures used by name

GATE = "pulumi-python:dynamic/power:Gate"
OFFICE_HOURS = Schedule.model_validate(
    {
        "timezone": "Europe/Paris",
        "periods": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "stop": "19:00"}],
    }
)
MONDAY_TEN_IN_PARIS = dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC)
SUNDAY_NIGHT_IN_PARIS = dt.datetime(2027, 1, 3, 2, 0, tzinfo=dt.UTC)


def gates_of(registrations, server: str) -> dict[str, Any]:
    return {r.inputs["role"]: r for r in of_type(registrations, GATE) if f"-{server}-host-" in r.name}


@pytest.mark.parametrize("stack", ["acme-cloud", "biolab-hybrid"])
@pulumi.runtime.test
def test_every_cloud_server_is_woken_before_anything_reaches_it_and_settled_after(engine_for, stack):
    engine = engine_for(stack)
    cloud = [s.name for _, s in engine.settings.platform.servers() if s.placement.kind == "cloud"]

    def check(registrations):
        assert not of_type(registrations, "aws:ec2transitgateway/instanceState:InstanceState")
        for server in cloud:
            gates = gates_of(registrations, server)
            assert set(gates) == {"wake", "settle"}, server
            wake, settle = gates["wake"].urn, gates["settle"]
            reaching = [
                r
                for r in registrations
                if f"-{server}-host-" in r.name
                and r.type in ("pulumi:providers:docker", "command:remote:Command", "command:local:Command")
            ]
            assert reaching and all(wake in r.dependencies for r in reaching), server
            (provider,) = (r for r in reaching if r.type == "pulumi:providers:docker")
            # An untouched sleeping lab: nothing may ping its engine when the provider is configured.
            assert provider.inputs["disableDockerDaemonCheck"] in (True, "true"), server
            deployed = {c.urn for c in containers_of(registrations, server).values()}
            deployed |= {r.urn for r in reaching if r.type != "pulumi:providers:docker"}
            assert deployed <= set(settle.dependencies), f"{server}: put back only once everything is deployed"
            assert wake in settle.dependencies, "it knows whether the wake started the server"
            # A server it starts is booting: the gate waits there until Docker answers.
            machine = next(r for r in registrations if r.name.endswith(f"-{server}-host-server-eip"))
            assert gates["wake"].inputs["ssh_destination"] == f"admin@{machine.outputs['publicIp']}", server

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_the_deployment_fingerprint_changes_with_what_is_deployed_and_only_with_it():
    from components.host_preparation import HostPreparationArgs
    from components.placement.aws import deployment_fingerprint
    from constellab import topology
    from constellab.settings import load_stack_file
    from tests.conftest import stack_file

    platform = load_stack_file(stack_file("acme-cloud")).platform
    lab = platform.labs[0]
    keys = list(platform.ssh_public_keys)
    preparation = HostPreparationArgs(
        ssh_host="203.0.113.7", ssh_user="admin", authorized_keys=keys, after_cloud_init=True
    )
    server_set = topology.server_set(platform, lab)
    used = sorted({ref.name for spec in server_set.containers for ref in spec.refs if not ref.generated})
    assert used, "the lab host is given configured values"

    def values(**changed: str) -> dict[str, pulumi.Input[str]]:
        found: dict[str, pulumi.Input[str]] = {name: pulumi.Output.secret(f"{name}-1") for name in used}
        found["community-api-key"] = "not used by this lab's containers"
        return found | changed

    def fingerprint(**kwargs: Any) -> pulumi.Output[str]:
        return deployment_fingerprint(
            kwargs.get("server_set", server_set),
            kwargs.get("values", values()),
            kwargs.get("preparation", preparation),
            lab,
        )

    newer = platform.images.model_copy(update={"lab_manager": "constellab/lab-manager:2.4.2"})
    variants = [
        fingerprint(),
        fingerprint(),
        fingerprint(values=values(community_api_key="changed")),
        fingerprint(values=values(**{"community-api-key": "changed"})),
        fingerprint(server_set=topology.server_set(platform.model_copy(update={"images": newer}), lab)),
        fingerprint(values=values(**{used[0]: "rotated"})),
        fingerprint(preparation=dataclasses.replace(preparation, authorized_keys=["ssh-ed25519 AAAAnew x"])),
    ]

    def check(found: list[str]) -> None:
        base, same, extra_key, unused_value, new_image, rotated, new_keys = found
        assert base == same == extra_key == unused_value, "nothing the server is given changed"
        assert len({base, new_image, rotated, new_keys}) == 4, "an image, a secret, the login keys each change it"

    return pulumi.Output.all(*variants).apply(check)


def provider_at(now: dt.datetime) -> PowerGateProvider:
    return PowerGateProvider(clock=lambda: now)


def props(instance: str, role: str, **changes: Any) -> dict[str, Any]:
    base = {
        "role": role,
        "server_name": "lab1",
        "region": REGION,
        "instance_id": instance,
        "declared": "running",
        "schedule": None,
        "idle_stop": False,
        "fingerprint": "deployed-1",
        "woken_at": "",
    }
    return base | changes


def state(ec2: Any, instance: str) -> str:
    return ec2_power.state_of(ec2, instance)


@pytest.mark.slow
def test_a_parked_lab_someone_started_is_stopped_by_the_next_up(aws):
    instance = launch(aws, "lab2")
    gate = provider_at(MONDAY_TEN_IN_PARIS)
    parked = props(instance, "settle", declared="stopped", schedule=OFFICE_HOURS.model_dump_json())

    assert gate.diff("id", parked, parked).changes is True, "the preview shows it will be stopped"
    gate.update("id", parked, parked)

    assert state(aws, instance) == "stopped"
    assert gate.diff("id", parked, parked).changes is False, "then it holds, with no refresh"


@pytest.mark.slow
def test_an_up_that_changes_nothing_leaves_a_sleeping_lab_asleep(aws):
    instance = launch(aws, "lab1", state="stopped")
    gate = provider_at(SUNDAY_NIGHT_IN_PARIS)
    scheduled = {"schedule": OFFICE_HOURS.model_dump_json()}

    wake = props(instance, "wake", **scheduled)
    assert gate.diff("id", wake, wake).changes is False
    settle = props(instance, "settle", **scheduled)
    assert gate.diff("id", settle, settle).changes is False
    assert state(aws, instance) == "stopped"


@pytest.mark.slow
def test_a_change_wakes_a_lab_its_schedule_stopped_then_puts_it_back_to_sleep(aws):
    instance = launch(aws, "lab1", state="stopped")
    gate = provider_at(SUNDAY_NIGHT_IN_PARIS)
    scheduled = {"schedule": OFFICE_HOURS.model_dump_json()}
    before = props(instance, "wake", **scheduled)
    changed = props(instance, "wake", **scheduled, fingerprint="deployed-2")

    assert gate.diff("id", before, changed).changes is True
    woken = gate.update("id", before, changed).outs

    assert state(aws, instance) == "running", "Docker can be reached: the update goes on"
    assert woken is not None and woken["woken_at"]
    settle_before = props(instance, "settle", **scheduled, woken_at="")
    settle_now = props(instance, "settle", **scheduled, woken_at=woken["woken_at"])
    assert gate.diff("id", settle_before, settle_now).changes is True
    gate.update("id", settle_before, settle_now)
    assert state(aws, instance) == "stopped", "outside its hours, as its schedule has it"


@pytest.mark.slow
def test_inside_its_hours_an_idle_stopped_lab_stays_stopped_unless_this_up_woke_it(aws):
    instance = launch(aws, "lab1", state="stopped")
    gate = provider_at(MONDAY_TEN_IN_PARIS)
    idle = {"schedule": OFFICE_HOURS.model_dump_json(), "idle_stop": True}

    settle = props(instance, "settle", **idle)
    assert gate.diff("id", settle, settle).changes is False, "its idle alarm stopped it: left so"
    wake_before, wake_now = props(instance, "wake", **idle), props(instance, "wake", **idle, fingerprint="deployed-2")
    woken = gate.update("id", wake_before, wake_now).outs
    assert woken is not None
    after = props(instance, "settle", **idle, woken_at=woken["woken_at"])
    assert gate.diff("id", settle, after).changes is True
    gate.update("id", settle, after)
    assert state(aws, instance) == "stopped"


@pytest.mark.slow
def test_an_unparked_lab_and_a_stopped_hub_are_started_before_their_deployment(aws):
    lab = launch(aws, "lab2", state="stopped")
    hub = launch(aws, "hub", state="stopped")
    gate = provider_at(SUNDAY_NIGHT_IN_PARIS)

    for instance in (lab, hub):
        wake = props(instance, "wake")  # declared running, no schedule: it must run now
        assert gate.diff("id", wake, wake).changes is True
        gate.update("id", wake, wake)
        assert state(aws, instance) == "running"


@pytest.mark.slow
def test_an_instance_ec2_does_not_know_fails_with_awss_answer(aws):
    gate = provider_at(MONDAY_TEN_IN_PARIS)
    missing = props("i-0123456789abcdef0", "wake")

    with pytest.raises(ec2_power.Ec2Error, match=r"AWS refused describe_instances: InvalidInstanceID.NotFound"):
        gate.diff("id", missing, missing)


def up(gate: PowerGateProvider, recorded: dict[str, Any] | None, news: dict[str, Any]) -> dict[str, Any]:
    """What the engine does with a gate on one `up`: create it, or diff the new inputs against the outputs it
    recorded and update when told so; an unchanged gate keeps its recorded outputs (a same step)."""
    if recorded is None:
        outs = gate.create(news).outs
    elif gate.diff("id", recorded, news).changes:
        outs = gate.update("id", recorded, news).outs
    else:
        return recorded
    assert outs is not None
    return outs


@pytest.mark.slow
def test_a_change_deployed_while_the_lab_was_awake_does_not_wake_it_at_night(aws):
    instance = launch(aws, "lab1")
    scheduled = {"schedule": OFFICE_HOURS.model_dump_json()}
    recorded = up(provider_at(MONDAY_TEN_IN_PARIS), None, props(instance, "wake", **scheduled))
    recorded = up(provider_at(MONDAY_TEN_IN_PARIS), recorded, props(instance, "wake", **scheduled, fingerprint="2"))
    aws.stop_instances(InstanceIds=[instance])  # its schedule, in the evening

    up(provider_at(SUNDAY_NIGHT_IN_PARIS), recorded, props(instance, "wake", **scheduled, fingerprint="2"))

    assert state(aws, instance) == "stopped", "nothing new to deploy: asleep it stays"


@pytest.mark.slow
def test_a_wake_the_settle_gate_had_nothing_to_undo_is_never_undone_later(aws):
    instance = launch(aws, "lab1", state="stopped")  # stopped by hand, inside its hours
    gate = provider_at(MONDAY_TEN_IN_PARIS)
    scheduled = {"schedule": OFFICE_HOURS.model_dump_json()}
    woken = up(gate, props(instance, "wake", **scheduled), props(instance, "wake", **scheduled, fingerprint="2"))
    settled = up(gate, props(instance, "settle", **scheduled), props(instance, "settle", **scheduled,
                                                                       woken_at=woken["woken_at"]))  # fmt: skip
    assert state(aws, instance) == "running", "inside its hours it runs: nothing to undo"

    # Later the lab gets an idle stop, and is in use: the next up must not take the old wake for its own.
    up(gate, settled, props(instance, "settle", **scheduled, idle_stop=True, woken_at=woken["woken_at"]))

    assert state(aws, instance) == "running"


@pytest.mark.slow
def test_a_server_the_gate_starts_is_waited_for_until_it_takes_docker_calls_and_a_running_one_is_not(aws):
    stopped, running = launch(aws, "lab2", state="stopped"), launch(aws, "lab1")
    waited: list[tuple[str, str, str]] = []
    gate = PowerGateProvider(
        clock=lambda: MONDAY_TEN_IN_PARIS,
        ready=lambda destination, label: waited.append((destination, label, state(aws, stopped))),
    )

    for instance in (stopped, running):
        wake = props(instance, "wake", ssh_destination=f"admin@{instance}.example", fingerprint="2")
        gate.update("id", props(instance, "wake"), wake)

    assert waited == [(f"admin@{stopped}.example", "lab1", "running")], "once started, and only the started one"


def test_the_readiness_check_retries_until_docker_answers_then_says_so():
    from constellab import server_ready

    answers = iter([(255, "", "ssh: connect to host 203.0.113.7 port 22: Connection refused"),
                    (0, "", ""), (0, "status: done\n28.2.2\n", "")])  # fmt: skip
    calls: list[list[str]] = []
    said: list[str] = []
    slept: list[float] = []

    def run(command, **kwargs):
        calls.append(command)
        code, out, err = next(answers)
        return subprocess.CompletedProcess(command, code, out, err)

    version = server_ready.wait_ready(
        "admin@203.0.113.7", ["-o", "ControlMaster=auto"], label="lab1", timeout=60, poll=1,
        progress=said.append, run=run, clock=lambda: 0.0, sleep=slept.append,
    )  # fmt: skip

    assert version == "28.2.2" and len(calls) == 3 and slept == [1, 1]
    assert calls[0][:5] == ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]
    assert calls[0][-2:] == ["admin@203.0.113.7", server_ready.READY_CHECK] and "ControlMaster=auto" in calls[0]
    assert said == ["lab1 takes Docker calls (engine 28.2.2)"]


def test_a_server_that_never_takes_docker_calls_fails_naming_it_and_what_ssh_said():
    from constellab import server_ready

    times = iter([0.0, 10.0, 700.0])
    refused = subprocess.CompletedProcess([], 255, "", "admin@203.0.113.7: Permission denied (publickey).\n")

    with pytest.raises(server_ready.NotReadyError) as failed:
        server_ready.wait_ready(
            "admin@203.0.113.7", [], label="lab1", timeout=600, poll=5, progress=print,
            run=lambda *a, **k: refused, clock=lambda: next(times), sleep=lambda s: None,
        )  # fmt: skip

    assert str(failed.value) == (
        "lab1 was started but does not take Docker calls after 600 s over SSH (admin@203.0.113.7): "
        "admin@203.0.113.7: Permission denied (publickey)."
    )
