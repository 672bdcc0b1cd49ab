"""The real program under mocks: what a first `pulumi up` on AWS needs that the mock engine never checks."""

from __future__ import annotations

import json

import pulumi

import program
from offline.engine import quiescent
from tests.conftest import declared, of_type

INSTANCE = "aws:ec2/instance:Instance"
EIP_ASSOCIATION = "aws:ec2/eipAssociation:EipAssociation"


@pulumi.runtime.test
def test_servers_boot_and_take_their_address_only_once_the_subnet_routes_to_the_internet(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        # AWS documents it for aws_eip and the instance's packages need it: nothing else orders these.
        route_out = {
            r.urn
            for r in registrations
            if r.type
            in (
                "aws:ec2/internetGateway:InternetGateway",
                "aws:ec2/routeTable:RouteTable",
                "aws:ec2/routeTableAssociation:RouteTableAssociation",
            )
        }
        assert len(route_out) == 3
        waiting = of_type(registrations, INSTANCE) + of_type(registrations, EIP_ASSOCIATION)
        assert len(waiting) == 8, "four cloud servers"
        late = [r.name for r in waiting if not route_out <= set(r.dependencies)]
        assert late == []

    return declared(engine).apply(check)


def with_keys(settings, keys):
    import dataclasses

    return dataclasses.replace(settings, platform=settings.platform.model_copy(update={"ssh_public_keys": tuple(keys)}))


NEW_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx1bmNoLWtleS1vZi10aGUtbmV3LWFkbWluaXN0cmF0b3I new@acme"


@pulumi.runtime.test
def test_a_key_change_reaches_running_servers_over_ssh_and_their_tags_never_their_user_data():
    from constellab import ssh_keys
    from constellab.settings import load_stack_file
    from offline.engine import configure
    from tests.conftest import stack_file

    before = load_stack_file(stack_file("acme-cloud"))
    old_key = before.platform.ssh_public_keys[0]
    engine = configure(stack_file("acme-cloud"), with_keys(before, [NEW_KEY]))

    def check(registrations):
        instances = of_type(registrations, INSTANCE)
        for instance in instances:
            assert "userData" in instance.ignore_changes, "a change of user data stops and starts the server"
            tags = instance.inputs["tags"]
            assert ssh_keys.keys_from_tags(tags) == [NEW_KEY], "a replacement's first boot gets the current keys"
            assert all(len(value) <= ssh_keys.TAG_VALUE_LIMIT for value in tags.values())
        preparations = [r for r in of_type(registrations, "command:remote:Command") if "-preparation-" in r.name]
        cloud = [p for p in preparations if p.inputs["create"].startswith("cloud-init status --wait")]
        assert len(cloud) == 4, "every cloud server (a parked one is woken when its preparation changes)"
        for preparation in cloud:
            script = preparation.inputs["stdin"]
            keys_block = script.split("<<'KEYS'\n", 1)[1].split("\nKEYS\n", 1)[0]
            assert keys_block.splitlines() == [NEW_KEY], "exactly the declared keys: the removed one goes"
            assert old_key not in script

    program.build(engine.stack, engine.settings)
    return quiescent().apply(lambda _: check(list(engine.registrations)))


@pulumi.runtime.test
def test_docker_over_ssh_is_multiplexed_on_every_remote_server(engine_for):
    from constellab import ssh_options

    engine = engine_for("biolab-hybrid")

    def check(registrations):
        providers = {p.name: p.inputs for p in of_type(registrations, "pulumi:providers:docker")}
        assert set(providers) == {"biolab-hub-host-docker", "biolab-analysis-host-docker"}
        for inputs in providers.values():
            options = json.loads(inputs["sshOpts"]) if isinstance(inputs["sshOpts"], str) else inputs["sshOpts"]
            pairs = {options[i + 1] for i in range(0, len(options), 2) if options[i] == "-o"}
            assert {"ControlMaster=auto", "ControlPath=~/.ssh/constellab-%C", "ControlPersist=60"} <= pairs
        assert ssh_options.CONTROL_DIRECTORY.expanduser().is_dir(), "ssh binds the master's socket there"

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_a_network_with_a_fixed_name_is_deleted_before_it_is_replaced(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        networks = of_type(registrations, "docker:index/network:Network")
        assert networks and all(n.delete_before_replace for n in networks), "Docker refuses a second of that name"

    return declared(engine).apply(check)
