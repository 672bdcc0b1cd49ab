"""`HostPreparation` (`components/host_preparation.py`) and the placements that use it, under the mock
engine: a host prepared over SSH before Docker is reached, again when the preparation or the instance changes."""

from __future__ import annotations

import pulumi

from constellab import host_setup
from offline.engine import reveal
from tests.conftest import declared, of_type

REMOTE_COMMAND = "command:remote:Command"


@pulumi.runtime.test
def test_containers_wait_for_docker_on_a_fresh_instance(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        ready = of_type(registrations, "command:remote:Command")
        # Every cloud server; a parked one is woken first when its preparation changes (`PowerGate`).
        assert sorted(r.name.split("-host-")[0] for r in ready) == ["acme-hub", "acme-lab1", "acme-lab2", "acme-space"]
        assert all("cloud-init status --wait" in r.inputs["create"] for r in ready)
        providers = of_type(registrations, "pulumi:providers:docker")
        assert all(p.inputs["host"].startswith("ssh://admin@203.0.113.") for p in providers)
        # The provider's host is derived from the preparation's output, so it cannot connect earlier.
        ready_urns = {r.urn for r in ready}
        assert all(set(p.dependencies) & ready_urns for p in providers)
        provider_urns = {p.urn for p in providers}
        containers = of_type(registrations, "docker:index/container:Container")
        assert containers and all(c.provider.rsplit("::", 1)[0] in provider_urns for c in containers)

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_an_on_prem_host_is_prepared_over_ssh_before_docker_is_reached(engine_for):
    engine = engine_for("pharma-onprem")

    def check(registrations):
        hosts = {p.name: p.inputs["host"] for p in of_type(registrations, "pulumi:providers:docker")}
        assert hosts == {"pharma-hub-host-docker": "ssh://constellab@10.20.0.10:22",
                         "pharma-qc-host-docker": "ssh://ops@10.20.0.11:2200"}  # fmt: skip
        prepared = {r.name: r for r in of_type(registrations, REMOTE_COMMAND)}
        qc = prepared["pharma-qc-host-preparation-prepare"]
        connection = reveal(qc.inputs["connection"])
        assert connection["host"] == "10.20.0.11" and int(connection["port"]) == 2200
        # The session's own port is allowed too (sshd may listen elsewhere behind NAT): never a lockout.
        assert qc.inputs["create"] == qc.inputs["update"] == 'sudo -n sh -s -- ops 2200 ufw "${SSH_CONNECTION##* }"'
        script = qc.inputs["stdin"]
        assert script.startswith(host_setup.prepare_script().split("systemctl enable docker")[0]), "the same steps"
        assert "-A CONSTELLAB-ADMIN -s 10.20.0.0/24 -j RETURN\n-A CONSTELLAB-ADMIN -j DROP" in script
        jump = "--ctstate DNAT --ctorigdstport 2222 --ctdir ORIGINAL -j CONSTELLAB-ADMIN"
        assert jump in script, "Codelab's SSH past ufw"
        assert "CONSTELLAB-IMDS" not in script, "no metadata service on-prem"
        provider = next(
            p for p in of_type(registrations, "pulumi:providers:docker") if p.name == "pharma-qc-host-docker"
        )
        assert qc.urn in provider.dependencies, "Docker is reached only once the host is prepared"
        assert not of_type(registrations, "aws:ec2/instance:Instance")

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_a_cloud_server_is_prepared_again_over_ssh_and_its_user_data_never_restarts_it(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        instance = next(r for r in of_type(registrations, "aws:ec2/instance:Instance") if "-lab1-" in r.name)
        volume = next(r for r in of_type(registrations, "aws:ebs/volume:Volume") if "-lab1-" in r.name)
        assert "userData" in instance.ignore_changes, "a new script reaches the server over SSH, not by a restart"
        assert instance.inputs["tags"]["constellab-data-volume"] == volume.id
        assert instance.inputs["metadataOptions"]["instanceMetadataTags"] == "enabled"
        prepare = next(
            r for r in of_type(registrations, REMOTE_COMMAND) if r.name == "acme-lab1-host-preparation-prepare"
        )
        assert prepare.inputs["create"].startswith("cloud-init status --wait")
        assert "sudo -n sh -s -- admin 22 ufw" in prepare.inputs["create"]
        keys = list(engine.settings.platform.ssh_public_keys)
        script = prepare.inputs["stdin"]
        assert script.startswith(host_setup.prepare_script(keys).split("systemctl enable docker")[0])
        assert "-A CONSTELLAB-IMDS -s 172.30.252.2 -j DROP\n-A CONSTELLAB-IMDS -s 172.30.254.2 -j DROP" in script
        assert "-A CONSTELLAB-IMDS -s 172.30.252.0/24 -j RETURN" in script, "glab reads the hub's data lake"
        assert "-A CONSTELLAB-IMDS -s 172.30.253.0/24" not in script, "nothing on the manager network needs it"
        assert prepare.inputs["triggers"][0] == instance.id, "a replaced instance is prepared again"
        assert prepare.inputs["triggers"] == [instance.id]

    return declared(engine).apply(check)
