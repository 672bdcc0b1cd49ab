"""`LabConfiguration` (`components/lab_configuration.py`) under the mock engine: a lab the stack configures is
handed to its lab manager by the client, over the right transport and TLS check, with every secret kept secret;
labs the space configures get no call."""

from __future__ import annotations

import json

import pulumi

from constellab import lab_config
from offline.engine import Registration, is_secret, placeholder, reveal
from tests.conftest import containers_of, declared, env_of, of_type, program_secret

LOCAL_COMMAND = "command:local:Command"


def client_input(registrations, server: str) -> tuple[dict, Registration]:
    command = next(r for r in of_type(registrations, LOCAL_COMMAND) if r.name.startswith(f"{server}-"))
    return json.loads(reveal(command.inputs["stdin"])), command


@pulumi.runtime.test
def test_a_lab_the_stack_configures_is_handed_to_its_lab_manager_with_every_secret_kept_secret(engine_for):
    engine = engine_for("pharma-onprem")
    qc = engine.settings.platform.labs[0]

    def check(registrations):
        document, command = client_input(registrations, "pharma-qc")
        assert is_secret(command.inputs["stdin"])
        assert (
            command.inputs["create"] == command.inputs["update"] == ".venv/bin/python -m constellab.lab_manager_client"
        )
        assert command.inputs["logging"] == "stdoutAndStderr"
        assert document["config"] == lab_config.config_body(qc.configuration, "qc")
        # Only the machine running `pulumi up` reaches this site: through an SSH tunnel, as Docker is.
        assert document["transport"]["kind"] == "ssh"
        assert (document["transport"]["destination"], document["transport"]["port"]) == ("ops@10.20.0.11", 2200)
        manager = containers_of(registrations, "qc")["lab_manager"]
        assert document["apiKey"] == env_of(manager)["LAB_MANAGER_API_KEY"], "the key the container got"
        init = document["init"]
        assert init["space"]["apiKey"] == placeholder(program_secret("spaceApiKeys"), "qc"), "qc's own, not hub's"
        assert init["lab"]["codelabToken"] == placeholder(program_secret("codelabTokens"), "qc")
        assert document["apiKey"] == placeholder(program_secret("labManagerApiKeys"), "qc"), "the Space's key for qc"
        passwords = {
            r.name: r
            for r in of_type(registrations, "random:index/randomPassword:RandomPassword")
            if "-db-" in r.name and r.name.startswith("pharma-qc-")
        }
        assert set(passwords) == {"pharma-qc-host-configuration-prod-db-password",
                                  "pharma-qc-host-configuration-dev-db-password"}  # fmt: skip
        assert all(p.protect and p.retain_on_delete for p in passwords.values()), "the databases read them once"
        assert init["db"]["gwsCoreProdPassword"] != init["db"]["gwsCoreDevPassword"]
        containers = {c.urn for c in containers_of(registrations, "qc").values()}
        assert containers <= set(command.dependencies), "the call waits for the lab manager and its proxy"
        assert "secret" not in json.dumps(command.inputs["create"])

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_the_local_lab_is_configured_through_this_machines_proxy(engine_for):
    engine = engine_for("local")

    def check(registrations):
        packages = {r.type.split(":")[0] for r in registrations if r.custom}
        assert packages <= {"docker", "random", "pulumi", "command"}, "no AWS, no DNS"
        provider = of_type(registrations, "pulumi:providers:docker")[0]
        assert provider.inputs["host"] == "unix:///var/run/docker.sock"
        document, _ = client_input(registrations, "local-lab")
        assert document["transport"] == {"kind": "direct", "address": "127.0.0.1", "port": 443}
        assert document["init"]["backup"] == {"enable": False}

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_labs_the_space_configures_get_no_call_from_the_stack(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        assert of_type(registrations, LOCAL_COMMAND) == []

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_the_client_checks_the_certificate_the_site_was_given(engine_for):
    engine = engine_for("pharma-onprem")

    def check(registrations):
        hub, command = client_input(registrations, "pharma-hub")
        chain = engine.settings.platform.hubs[0].certificates.certificate_chain
        assert hub["tls"] == {"verify": "pem", "ca": chain}, "the hub's manual certificate is its trust anchor"
        qc, _ = client_input(registrations, "pharma-qc")
        assert qc["tls"] == {"verify": "none"}, "qc serves Traefik's own certificate: nothing to check it against"
        assert command.inputs["triggers"] == [containers_of(registrations, "hub")["lab_manager"].id]

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_a_cloud_lab_with_a_lets_encrypt_certificate_is_checked_against_the_system_store(engine_for):
    engine = engine_for("biolab-hybrid")

    def check(registrations):
        analysis, _ = client_input(registrations, "biolab-analysis")
        assert analysis["tls"] == {"verify": "system"}
        assert analysis["transport"]["destination"].startswith("admin@203.0.113.")

    return declared(engine).apply(check)


def test_a_changed_brick_or_secret_changes_what_the_configuration_call_sends(stacks_copy):
    """The call runs again when its input changes: its standard input holds every part of the request."""
    import yaml as yaml_module

    from offline.engine import run_program

    def stdin_of(path):
        run = run_program(path)
        command = next(r for r in run.registrations if r.type == LOCAL_COMMAND and r.name.startswith("pharma-qc-"))
        return json.loads(reveal(command.inputs["stdin"]))

    path = stacks_copy / "Pulumi.pharma-onprem.yaml"
    before = stdin_of(path)
    document = yaml_module.safe_load(path.read_text())
    document["config"]["constellab:platform"]["labs"][0]["configuration"]["bricks"][0]["version"] = "0.18.5"
    path.write_text(yaml_module.safe_dump(document, sort_keys=False))
    after = stdin_of(path)

    assert after["config"]["environment"]["bricks"] == [{"name": "gws_core", "version": "0.18.5"}]
    assert {key for key in before if before[key] != after[key]} == {"config"}, "only what changed"
    # The secrets are in it too (offline, their placeholders): a changed secret is a changed input as well.
    assert before["init"]["space"]["apiKey"] == placeholder(program_secret("spaceApiKeys"), "qc")
