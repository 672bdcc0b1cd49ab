"""`CloudServer` (`components/cloud_server.py`) under the mock engine: the EC2 instance, its disks, address,
image, security group and the user data it boots with."""

from __future__ import annotations

import ipaddress

import pulumi
import pytest

from constellab import host_setup, lab_host
from tests.conftest import STACK_NAMES, declared, of_type

DATABASE_PORTS = {3306, 5432, 27017, 6379, 1433, 1521}


@pulumi.runtime.test
def test_cloud_instances_require_imdsv2_encrypt_their_disks_and_keep_their_address(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        instances = of_type(registrations, "aws:ec2/instance:Instance")
        assert len(instances) == 4
        for instance in instances:
            inputs = instance.inputs
            assert inputs["metadataOptions"]["httpTokens"] == "required"
            assert inputs["rootBlockDevice"]["encrypted"] is True
            assert inputs["ebsOptimized"] is True and inputs["monitoring"] is True
            assert inputs["iamInstanceProfile"]
            assert "ami" in instance.ignore_changes
            tags = inputs["tags"]
            assert tags["constellab:stack"] == "acme-cloud" and tags["constellab:role"] in ("lab", "hub", "space")
        assert all(v.inputs["encrypted"] for v in of_type(registrations, "aws:ebs/volume:Volume"))
        associations = of_type(registrations, "aws:ec2/eipAssociation:EipAssociation")
        assert {a.inputs["instanceId"] for a in associations} == {i.id for i in instances}
        attachments = of_type(registrations, "aws:ec2/volumeAttachment:VolumeAttachment")
        assert attachments and all(a.delete_before_replace for a in attachments), "a volume attaches to one instance"
        assert all("volumeTags" not in i.inputs for i in instances), "volume_tags would fight the data volume's tags"

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_instance_architecture_follows_the_instance_type(engine_for):
    engine = engine_for("acme-cloud")

    def check(_):
        patterns = {
            call.args["filters"][0]["values"][0] for call in engine.mocks.calls if call.token.endswith("getAmi")
        }
        assert patterns == {"debian-13-amd64-*", "debian-13-arm64-*"}, "lab2 is an m7g (Graviton)"

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_security_groups_open_web_to_all_and_ssh_only_to_administrators(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        admin = set(engine.settings.platform.admin_cidrs)
        rules = of_type(registrations, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        assert rules
        for rule in rules:
            port = int(rule.inputs["fromPort"])
            assert port == int(rule.inputs["toPort"]), "one port per rule"
            cidr = str(rule.inputs.get("cidrIpv4") or rule.inputs.get("cidrIpv6"))
            if port in (80, 443):
                assert ipaddress.ip_network(cidr).prefixlen == 0
            else:
                assert port in (22, 2222) and cidr in admin
        assert not {int(r.inputs["fromPort"]) for r in rules} & DATABASE_PORTS

    return declared(engine).apply(check)


CLOUD_STACKS = [name for name in STACK_NAMES if name in ("acme-cloud", "biolab-hybrid")]


@pytest.mark.slow
@pytest.mark.parametrize("stack", CLOUD_STACKS)
@pulumi.runtime.test
def test_every_cloud_servers_registered_user_data_passes_cloud_init_schema_and_prepares_the_host(
    engine_for, stack, tmp_path
):
    """What each instance of a shipped stack boots with, as the engine receives it: Debian's `cloud-init
    schema` accepts it, and it carries lab-configurer's GID, daemon.json and folders."""
    import subprocess

    from tests.conftest import tool

    cloud_init_cli = tool("cloud-init")
    engine = engine_for(stack)

    def check(registrations):
        instances = of_type(registrations, "aws:ec2/instance:Instance")
        assert len(instances) == sum(
            1 for _, server in engine.settings.platform.servers() if server.placement.kind == "cloud"
        )
        for instance in instances:
            document = instance.inputs["userData"]
            path = tmp_path / f"{instance.name}.yaml"
            path.write_text(document)
            checked = subprocess.run(
                [cloud_init_cli, "schema", "--config-file", str(path)], capture_output=True, text=True
            )
            assert checked.returncode == 0, f"{instance.name}: {checked.stdout}{checked.stderr}"
            # The preparation, as cloud-init runs it at the first boot: every script it writes or runs.
            import yaml

            parsed = yaml.safe_load(document)
            scripts = "\n".join(
                [entry["content"] for entry in parsed.get("write_files", [])]
                + [command if isinstance(command, str) else " ".join(command) for command in parsed.get("runcmd", [])]
            )
            assert f"groupadd -g {lab_host.DOCKER_GID} docker" in scripts, instance.name
            assert f"groupmod -g {lab_host.DOCKER_GID} docker" in scripts, instance.name
            assert f"cat > /etc/docker/daemon.json <<'JSON'\n{host_setup.DAEMON_JSON}JSON" in scripts, instance.name
            for folder, _ in lab_host.HOST_FOLDERS:
                assert f"mkdir -p {folder}\n" in scripts, (instance.name, folder)
        return instances

    return declared(engine).apply(check)
