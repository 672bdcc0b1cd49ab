"""The real program under mocks: every hub and lab host is one Constellab's lab manager runs unmodified."""

from __future__ import annotations

import asyncio
import json

import pulumi
import pytest

import program
from constellab import host_setup, lab_config, lab_host
from offline.engine import Registration, is_secret, placeholder, quiescent, reveal
from tests.conftest import STACK_NAMES, containers_of, declared, env_of, networks_of, of_type

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
LOCAL_COMMAND = "command:local:Command"
REMOTE_COMMAND = "command:remote:Command"


def server_of(registration) -> str:
    """The server a container set's resource belongs to (`<customer>-<server>-host-containers-...`)."""
    return registration.name.split("-host-containers-")[0].split("-", 1)[1]


@pytest.mark.parametrize("stack", STACK_NAMES)
@pulumi.runtime.test
def test_each_hub_and_lab_host_declares_the_two_system_containers_and_the_three_networks(engine_for, stack):
    engine = engine_for(stack)
    lab_hosts = {server.name for server in engine.settings.platform.lab_hosts()}

    def check(registrations):
        for server in lab_hosts:
            containers = containers_of(registrations, server)
            assert set(containers) == {"lab_manager", "reverse_proxy"}, server
            networks = {r.inputs["name"] for r in of_type(registrations, NETWORK) if server_of(r) == server}
            assert networks == {"gencovery-network-manager", "gencovery-network-dev", "gencovery-network-prod"}
            assert networks_of(containers["lab_manager"]) == {"gencovery-network-manager"}
            assert networks_of(containers["reverse_proxy"]) == networks
            assert {c.inputs["restart"] for c in containers.values()} == {"always"}
        declared_names = {r.inputs["name"] for r in of_type(registrations, CONTAINER)}
        assert not declared_names & lab_host.LAB_MANAGER_NAMES, "the lab manager's compose would collide"

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_the_collaborative_space_keeps_its_own_set_on_its_own_networks(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        space = containers_of(registrations, "space")
        assert set(space) == {"traefik", "space", "db-space"}
        assert networks_of(space["db-space"]) == {"space-data"}, "the proxy never reaches the database"
        assert networks_of(space["traefik"]) == {"space-edge"}
        mounts = {v["hostPath"] for v in space["traefik"].inputs["volumes"]}
        assert "/var/run/docker.sock" not in mounts, "nothing labels containers on the space's server"

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_the_lab_manager_gets_upstreams_environment_mounts_and_route(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        manager = containers_of(registrations, "lab1")["lab_manager"]
        env = env_of(manager)
        host = "lab1.acme.constellab.app"
        assert {key: env[key] for key in ("VOLUME_PATH", "LOG_PATH", "VIRTUAL_HOST", "ENVIRONMENT_PROFILE")} == {
            "VOLUME_PATH": "/app",
            "LOG_PATH": "/app/lab_manager/logs",
            "VIRTUAL_HOST": host,
            "ENVIRONMENT_PROFILE": "prod",
        }
        assert env["AUTO_START_LAB"] == "true"
        # The Space generated this lab's key: it is the configured secret, and it stays a secret.
        assert env["LAB_MANAGER_API_KEY"] == placeholder(program_secret("labManagerApiKeys"), "lab1")
        assert is_secret(manager.inputs["envs"])
        volumes = {(v["hostPath"], v["containerPath"]) for v in manager.inputs["volumes"]}
        assert volumes == {("/var/run/docker.sock", "/var/run/docker.sock"), ("/app", "/app")}
        labels = {label["label"]: label["value"] for label in manager.inputs["labels"]}
        assert labels["traefik.http.routers.lab-manager-router.rule"] == f"Host(`lab-manager.{host}`)"
        assert labels["traefik.http.routers.lab-manager-router.tls.domains[0].main"] == f"*.{host}"
        proxy = containers_of(registrations, "lab1")["reverse_proxy"]
        published = {(int(p["internal"]), int(p["external"])) for p in proxy.inputs["ports"]}
        assert published == {(80, 80), (443, 443)}
        assert ("/srv/letsencrypt", "/letsencrypt") in {
            (v["hostPath"], v["containerPath"]) for v in proxy.inputs["volumes"]
        }

    return declared(engine).apply(check)


def program_secret(name: str):
    from constellab.settings import SECRET_KEYS

    return next(secret for secret in SECRET_KEYS if secret.name == name)


@pulumi.runtime.test
def test_only_the_proxies_publish_ports_and_only_the_lab_manager_mounts_the_docker_socket(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        published: dict[str, set[int]] = {}
        socket_users = set()
        for container in of_type(registrations, CONTAINER):
            name = container.inputs["name"]
            for port in container.inputs.get("ports", []):
                published.setdefault(name, set()).add(int(port["external"]))
            if any(v["hostPath"] == "/var/run/docker.sock" for v in container.inputs.get("volumes", [])):
                socket_users.add(name)
        assert published == {"reverse_proxy": {80, 443}, "traefik": {80, 443}}
        assert socket_users == {"lab_manager"}, "whoever takes Traefik must not get root"
        proxies = [c for c in of_type(registrations, CONTAINER) if c.inputs["name"] == "reverse_proxy"]
        assert proxies and all(
            {"hostPath": "/run/constellab", "containerPath": "/run/constellab", "readOnly": True}
            in [
                {k: v for k, v in m.items() if k in ("hostPath", "containerPath", "readOnly")}
                for m in c.inputs["volumes"]
            ]
            for c in proxies
        ), "the read-only API proxy's folder"
        preparations = [r for r in of_type(registrations, REMOTE_COMMAND) if "-preparation-" in r.name]
        lab_hosts = [r for r in preparations if "-space-" not in r.name]
        assert all("constellab-docker-proxy.service" in r.inputs["stdin"] for r in lab_hosts)
        assert not [r for r in preparations if "-space-" in r.name and "docker-proxy" in r.inputs["stdin"]]

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_acme_servers_get_the_dns_challenge_token_as_a_secret_file_never_pulumis_own(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        proxy = containers_of(registrations, "hub")["reverse_proxy"]
        token, secret, permissions = uploads_of(proxy)["/run/secrets/cf_dns_api_token"]
        assert secret and permissions == "0400" and token == placeholder(program_secret("acmeDnsApiToken"))
        pulumis = placeholder(program_secret("cloudflareApiToken"))
        (cloudflare,) = of_type(registrations, "pulumi:providers:cloudflare")
        assert reveal(cloudflare.inputs["apiToken"]) == pulumis
        carried = [
            c.inputs["name"] for c in of_type(registrations, CONTAINER) if pulumis in json.dumps(reveal(c.inputs))
        ]
        assert carried == [], "the token that edits every record stays with Pulumi"
        assert env_of(proxy)["CF_DNS_API_TOKEN_FILE"] == "/run/secrets/cf_dns_api_token"
        assert "CF_DNS_API_TOKEN" not in env_of(proxy)

    return declared(engine).apply(check)


def uploads_of(container) -> dict[str, tuple[str, bool, str]]:
    """A container's uploaded files: path -> (content, registered as a secret, permissions)."""
    raw = container.inputs.get("uploads", [])
    plain = reveal(raw)
    return {
        upload["file"]: (upload["content"], is_secret(raw) or is_secret(raw[index]["content"]), upload["permissions"])
        for index, upload in enumerate(plain)
    }


@pulumi.runtime.test
def test_a_manual_certificate_is_delivered_where_lab_configurer_reads_it(engine_for):
    engine = engine_for("pharma-onprem")

    def check(registrations):
        hub = uploads_of(containers_of(registrations, "hub")["reverse_proxy"])
        chain = engine.settings.platform.hubs[0].certificates.certificate_chain
        assert hub["/certs/fullchain.pem"][0] == chain
        key, secret, permissions = hub["/certs/privkey.pem"]
        assert secret and permissions == "0400" and key == placeholder(program_secret("tlsPrivateKeys"), "hub")
        qc = uploads_of(containers_of(registrations, "qc")["reverse_proxy"])
        assert "/certs/privkey.pem" not in qc, "qc uses Traefik's default certificate"

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_the_cloud_manager_network_has_the_fixed_subnet_the_metadata_firewall_trusts(engine_for):
    engine = engine_for("biolab-hybrid")

    def check(registrations):
        subnets = {
            server_of(r): [c.get("subnet") for c in r.inputs.get("ipamConfigs", [])]
            for r in of_type(registrations, NETWORK)
            if r.inputs["name"] == "gencovery-network-manager"
        }
        assert subnets == {"analysis": ["172.30.253.0/24"], "hub": []}

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
def test_each_lab_exports_its_backup_target_and_a_secret_key_for_the_space(engine_for):
    engine = engine_for("acme-cloud")
    platform = program.build(engine.stack, engine.settings)

    def check(args):
        registrations, servers, credentials_secret, credentials = args
        backups = {r.name: r.outputs["bucket"] for r in of_type(registrations, "aws:s3/bucket:Bucket")}
        target = servers["lab1"]["backupTarget"]
        assert (target["region"], target["endpoint"]) == ("eu-west-3", "https://s3.eu-west-3.amazonaws.com")
        lab1 = engine.settings.platform.labs[0]
        assert [(t["frequency"], t["bucket"], t["retentionDays"]) for t in target["targets"]] == [
            ("DAILY", backups["acme-lab1-backups-daily-bucket"], lab1.backup.daily_days),
            ("WEEKLY", backups["acme-lab1-backups-weekly-bucket"], lab1.backup.weekly_days),
        ]
        assert credentials_secret
        keys = {r.name: r for r in of_type(registrations, "aws:iam/accessKey:AccessKey")}
        assert credentials["lab1"]["backup"]["accessKeyId"] == keys["acme-lab1-backups-identity-key"].id

    outputs = pulumi.Output.all(
        quiescent().apply(lambda _: list(engine.registrations)),
        pulumi.Output.from_input(platform.servers),
        pulumi.Output.from_input(asyncio.ensure_future(platform.credentials.is_secret())),  # type: ignore[arg-type]
        platform.credentials,
    )
    return outputs.apply(check)


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


@pulumi.runtime.test
def test_the_daily_backup_bucket_takes_over_the_single_bucket_of_earlier_versions(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        hub = next(r for r in registrations if r.name == "acme-hub" and r.type == "constellab:hub:DataHub")
        daily = next(r for r in registrations if r.name == "acme-hub-backups-daily" and not r.custom)
        assert [(a["spec"]["name"], a["spec"]["parentUrn"]) for a in daily.aliases] == [("acme-hub-backups", hub.urn)]
        weekly = next(r for r in registrations if r.name == "acme-hub-backups-weekly" and not r.custom)
        assert weekly.aliases == []
        bucket = next(r for r in registrations if r.name == "acme-hub-backups-daily-bucket")
        assert "bucketPrefix" in bucket.ignore_changes, "its old prefix must not replace it (and its data)"

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_the_reverse_proxy_is_the_former_traefik_container_deleted_before_it_is_replaced(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        proxy = containers_of(registrations, "lab1")["reverse_proxy"]
        assert [a["spec"]["name"] for a in proxy.aliases] == ["acme-lab1-host-containers-traefik"]
        assert proxy.delete_before_replace, "a replacement cannot bind ports 80 and 443 the old one holds"
        assert not containers_of(registrations, "lab1")["lab_manager"].delete_before_replace

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
