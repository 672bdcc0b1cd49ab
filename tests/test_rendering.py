"""Pure renderers, without Pulumi: names, topology, Traefik, IAM documents, cloud-init."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from constellab import (
    cloud_init,
    host_firewall,
    host_setup,
    lab_host,
    naming,
    ssh_keys,
    topology,
    traefik,
)
from constellab.aws import iam, instance_types, recovery
from constellab.settings import load_stack_file
from constellab.values import Configured
from tests.conftest import STACK_NAMES, stack_file, tool


def acme():
    return load_stack_file(stack_file("acme-cloud")).platform


def user_data() -> str:
    platform = acme()
    lab = platform.labs[0]
    return cloud_init.render_user_data(
        server_name=lab.name,
        ssh_public_keys=list(platform.ssh_public_keys),
    )


@pytest.mark.parametrize(
    ("instance_type", "architecture"),
    [("t3.large", "x86_64"), ("m7g.large", "arm64"), ("c6gn.xlarge", "arm64"), ("g5.xlarge", "x86_64"),
     ("m6idn.large", "x86_64"), ("r8gd.2xlarge", "arm64"), ("a1.medium", "arm64")],
)  # fmt: skip
def test_instance_architecture_is_read_from_the_family(instance_type, architecture):
    assert instance_types.instance_architecture(instance_type) == architecture


@pytest.mark.parametrize(
    ("instance_type", "refusal"),
    [("t3.large", None), ("m6i.large", None), ("m7g.xlarge", None), ("r7iz.large", None), ("m7i-flex.large", None),
     ("c8g.large", None), ("t4g.small", None), ("hpc6a.48xlarge", None),
     ("m5d.large", "instance store"), ("c6id.xlarge", "instance store"), ("r6gd.large", "instance store"),
     ("i4i.large", "instance store"), ("d3.xlarge", "instance store"), ("z1d.large", "instance store"),
     ("g4dn.xlarge", "instance store"), ("m5.metal", "bare metal"), ("mac2.metal", "bare metal"),
     ("g5.xlarge", "does not recover g5"), ("inf2.xlarge", "does not recover inf2"), ("x1e.xlarge", "does not")],
)  # fmt: skip
def test_always_on_servers_need_a_type_ec2_can_recover(instance_type, refusal):
    found = recovery.recovery_refusal(instance_type)
    assert found is None if refusal is None else refusal in (found or "")


def test_bucket_prefixes_fit_aws_limits_and_stay_readable():
    prefix = naming.bucket_prefix("a-very-long-customer-name", "an-even-longer-lab-name", "backups")
    assert len(prefix) <= 37 and prefix.endswith("-backups-") and prefix.startswith("a-very-long")
    assert naming.bucket_prefix("acme", "lab1", "data") == "acme-lab1-data-"


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_every_lab_host_declares_the_two_system_containers_and_the_three_networks(stack):
    platform = load_stack_file(stack_file(stack)).platform
    for server in platform.lab_hosts():
        server_set = topology.server_set(platform, server)
        assert [network.name for network in server_set.networks] == [
            "gencovery-network-manager",
            "gencovery-network-dev",
            "gencovery-network-prod",
        ]
        assert [spec.name for spec in server_set.containers] == ["lab_manager", "reverse_proxy"]
        assert not {spec.name for spec in server_set.containers} & lab_host.LAB_MANAGER_NAMES


def test_the_lab_manager_gets_upstreams_mounts_environment_and_route():
    platform = acme()
    lab1 = platform.labs[0]
    manager, proxy = topology.server_set(platform, lab1).containers
    host = "lab1.acme.constellab.app"
    assert manager.env == {
        "VOLUME_PATH": "/app",
        "LOG_PATH": "/app/lab_manager/logs",
        "VIRTUAL_HOST": host,
        "LAB_MANAGER_API_KEY": topology.Ref(Configured.LAB_MANAGER_API_KEY),
        "ENVIRONMENT_PROFILE": "prod",
        "AUTO_START_LAB": "true",
    }
    assert {(m.host_path, m.container_path, m.read_only) for m in manager.mounts} == {
        ("/var/run/docker.sock", "/var/run/docker.sock", False),
        ("/app", "/app", False),
    }
    assert manager.networks == ("gencovery-network-manager",) and manager.restart == "always"
    router = "traefik.http.routers.lab-manager-router"
    assert manager.labels[f"{router}.rule"] == f"Host(`lab-manager.{host}`)"
    assert manager.labels["traefik.http.services.lab-manager-service.loadbalancer.server.port"] == "3080"
    assert manager.labels[f"{router}.tls.certresolver"] == "myresolver"
    assert manager.labels[f"{router}.tls.domains[0].main"] == f"*.{host}"
    assert proxy.networks == lab_host.NETWORKS and proxy.restart == "always"
    assert {(p.internal, p.external) for p in proxy.ports} == {(80, 80), (443, 443)}
    assert ("/srv/letsencrypt", "/letsencrypt", False) in {
        (m.host_path, m.container_path, m.read_only) for m in proxy.mounts
    }


def test_a_lab_without_a_certificate_resolver_asks_for_no_wildcard():
    platform = load_stack_file(stack_file("pharma-onprem")).platform
    manager = topology.server_set(platform, platform.hubs[0]).containers[0]
    assert not [label for label in manager.labels if ".tls.certresolver" in label or ".tls.domains" in label]
    assert manager.labels["traefik.http.routers.lab-manager-router.tls"] == "true"


def test_the_lab_managers_key_is_the_spaces_in_both_modes_and_generated_only_on_this_machine():
    biolab = load_stack_file(stack_file("biolab-hybrid")).platform
    by_space, by_stack = biolab.hubs[0], biolab.labs[0]
    assert by_stack.configured_by_stack and not by_space.configured_by_stack
    for server in (by_space, by_stack):
        assert topology.generated_secret_names(topology.server_set(biolab, server).containers) == []
    local = load_stack_file(stack_file("local")).platform
    assert topology.generated_secret_names(topology.server_set(local, local.labs[0]).containers) == [
        "lab-manager-api-key"
    ]


SENSITIVE_SUFFIXES = ("PASSWORD", "API_KEY", "SECRET_ACCESS_KEY", "TOKEN")


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_every_password_key_and_token_a_container_gets_is_a_secret_reference(stack):
    platform = load_stack_file(stack_file(stack)).platform
    sensitive = 0
    for _, server in platform.servers():
        for spec in topology.server_set(platform, server).containers:
            for key, value in spec.env.items():
                if key.endswith(SENSITIVE_SUFFIXES):
                    assert isinstance(value, topology.Ref) and value.secret, f"{server.name}/{spec.role}: {key}"
                    sensitive += 1
            for file in spec.files:
                if file.path.startswith(("/run/secrets/", "/certs/privkey")):
                    assert isinstance(file.content, topology.Ref) and file.content.secret, file.path
                    assert file.mode == 0o400, file.path
                    sensitive += 1
    assert sensitive >= len(platform.lab_hosts())  # every lab manager's key at least


def lab_proxy(tls: traefik.TlsMode, **extra) -> traefik.ProxySettings:
    return traefik.ProxySettings(kind="lab-host", host="lab1.acme.example", tls=tls, **extra)


@pytest.mark.parametrize("tls", ["acme", "httpreq", "manual", "default"])
def test_every_lab_proxy_has_the_resolver_the_lab_managers_labels_name(tls):
    settings = lab_proxy(tls, httpreq_endpoint="https://api.example/dns-challenge")
    config = traefik.static_config(settings)
    acme_resolver = config["certificatesResolvers"]["myresolver"]["acme"]
    assert acme_resolver["storage"] == "/letsencrypt/acme.json"
    challenge = {"acme": "cloudflare", "httpreq": "httpreq"}.get(tls)
    assert acme_resolver.get("dnsChallenge", {}).get("provider") == challenge
    assert config["core"] == {"defaultRuleSyntax": "v2"}
    # The labels are read through the host's read-only API proxy, never the socket.
    assert config["providers"]["docker"] == {
        "exposedByDefault": False,
        "endpoint": "unix:///run/constellab/docker-ro.sock",
    }
    assert config["api"] == {"dashboard": False, "insecure": False}
    redirect = config["entryPoints"]["web"]["http"]["redirections"]["entryPoint"]
    assert redirect == {"to": "websecure", "scheme": "https", "permanent": True}
    assert config["entryPoints"]["websecure"]["http"]["middlewares"] == ["security-headers@file"]


def test_the_dns_challenge_settings_reach_the_proxy_environment():
    assert traefik.environment(lab_proxy("acme")) == {"CF_DNS_API_TOKEN_FILE": "/run/secrets/cf_dns_api_token"}
    endpoint = "https://api.example/dns-challenge"
    assert traefik.environment(lab_proxy("httpreq", httpreq_endpoint=endpoint)) == {"HTTPREQ_ENDPOINT": endpoint}
    assert traefik.environment(lab_proxy("manual")) == {}


def test_uploads_are_never_cut_by_a_timeout():
    config = traefik.static_config(lab_proxy("acme"))
    responding = config["entryPoints"]["websecure"]["transport"]["respondingTimeouts"]
    assert (responding["readTimeout"], responding["writeTimeout"]) == ("0s", "0s")
    assert config["serversTransport"]["forwardingTimeouts"]["responseHeaderTimeout"] == "0s"


def test_the_app_hosts_of_newer_lab_managers_are_routed_in_v3_syntax():
    routers = traefik.dynamic_config(lab_proxy("manual"))["http"]["routers"]
    assert routers["glab-apps"]["rule"] == r"HostRegexp(`^app-[a-zA-Z0-9-]+\.lab1\.acme\.example$`)"
    assert routers["codelab-apps"]["rule"] == r"HostRegexp(`^appdev-[a-zA-Z0-9-]+\.lab1\.acme\.example$`)"
    assert {router["ruleSyntax"] for router in routers.values()} == {"v3"}


def test_the_space_proxy_requests_its_own_certificate_and_has_no_docker_provider():
    config = traefik.static_config(traefik.ProxySettings(kind="space", host="space.acme.example", tls="acme"))
    assert config["entryPoints"]["websecure"]["http"]["tls"] == {
        "certResolver": "myresolver",
        "domains": [{"main": "space.acme.example"}],
    }
    assert "docker" not in config["providers"] and "core" not in config


def test_the_lab_manager_set_is_described_once_with_its_names_networks_and_hosts():
    names = [container.name for container in lab_host.lab_manager_containers(biota=True)]
    assert names == [
        "front",
        "glab",
        "codelab",
        "gws_core_prod_db",
        "gws_core_dev_db",
        "test_gws_dev_db",
        "gws_biota_db",
    ]
    assert "gws_biota_db" not in {container.name for container in lab_host.lab_manager_containers(biota=False)}
    codelab = next(c for c in lab_host.LAB_MANAGER_SET if c.name == "codelab")
    assert codelab.networks == ("gencovery-network-dev",) and codelab.published_ports == (2222,)
    first = codelab.routes[0]
    assert (first.host, first.port, first.basic_auth) == ("codelab", 8080, True)


def test_lab_policy_scopes_listing_to_its_prefix():
    document = iam.policy_document([iam.Grant("arn:aws:s3:::lake", "labs/lab1/", "write", "hub-results")])
    listing = next(s for s in document["Statement"] if s["Action"] == ["s3:ListBucket"])
    assert listing["Resource"] == "arn:aws:s3:::lake"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["labs/lab1/", "labs/lab1/*"]}}
    objects = next(s for s in document["Statement"] if s is not listing)
    assert objects["Resource"] == "arn:aws:s3:::lake/labs/lab1/*"
    assert "s3:DeleteObject" not in objects["Action"]


def test_security_group_rules_never_open_admin_ports_to_the_world():
    rules = iam.ingress_rules(["198.51.100.0/24"])
    admin = [rule for rule in rules if rule.port in iam.ADMIN_PORTS]
    assert {(rule.port, rule.cidr) for rule in admin} == {(22, "198.51.100.0/24"), (2222, "198.51.100.0/24")}
    assert {rule.port for rule in rules} == {22, 80, 443, 2222}


def test_user_data_mounts_the_data_volume_then_prepares_the_host():
    document = yaml.safe_load(user_data())
    commands = [" ".join(command) for command in document["runcmd"]]
    first_boot = next(c for c in commands if host_setup.PREPARE_SCRIPT_PATH in c)
    assert first_boot.startswith("sh -ec"), "one shell that stops at the first failure"
    assert first_boot.index("constellab-mount-data &&") < first_boot.index(host_setup.PREPARE_SCRIPT_PATH)
    assert "docker.io" not in document["packages"], "the docker group must get GID 999 before Docker's package"
    files = {f["path"]: f["content"] for f in document["write_files"]}
    script = files["/usr/local/sbin/constellab-mount-data"]
    assert "meta-data/tags/instance/constellab-data-volume" in script, "the volume's id is a tag, not user data"
    assert "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$volume_serial" in script
    assert 'if ! blkid "$device"' in script, "an existing filesystem is never formatted again"
    assert "/app/letsencrypt /srv/letsencrypt none bind" in script, "the ACME store outlives the instance"
    units = files["/etc/systemd/system/docker.service.d/10-constellab-data.conf"]
    assert "RequiresMountsFor=/app" in units, "Docker never starts on an unmounted /app"
    assert files[host_setup.PREPARE_SCRIPT_PATH] == host_setup.prepare_script()
    assert "DOCKER-USER" not in user_data(), "the firewall comes with the preparation over SSH, before containers"


def test_ssh_keys_travel_as_tags_of_at_most_256_characters_and_come_back_whole():
    rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAACAQ" + "x" * 700 + " ops@acme"
    keys = [rsa, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk3 second@acme"]
    tags = ssh_keys.key_tags(keys)
    assert len(tags) == 5 and all(len(value) <= 256 for value in tags.values())
    assert sorted(tags) == [f"constellab-ssh-keys-0{index}" for index in range(5)]
    assert ssh_keys.keys_from_tags({**tags, "Name": "lab1"}) == keys


def test_every_boot_installs_the_tags_keys_once_cloud_init_made_the_user():
    document = yaml.safe_load(user_data())
    wait, queued = document["bootcmd"]
    assert wait == ["sh", "-c", cloud_init.WAIT_FOR_INTERNET], "first, the internet for the first boot's packages"
    assert queued[:2] == ["systemd-run", "--no-block"], "bootcmd must not wait for the stage it runs in"
    assert "--property=After=cloud-init-network.service cloud-init.service network-online.target" in queued
    assert queued[-3:] == ["/bin/sh", cloud_init.KEYS_SCRIPT_PATH, "admin"]
    files = {f["path"]: f["content"] for f in document["write_files"]}
    script = files[cloud_init.KEYS_SCRIPT_PATH]
    assert "meta-data/tags/instance" in script and "grep '^constellab-ssh-keys-' | sort" in script
    assert host_setup.INSTALL_KEYS in script


def test_the_preparation_gives_docker_gid_999_then_writes_daemon_json_then_installs_docker():
    script = host_setup.prepare_script()
    group = script.index("groupadd -g 999 docker")
    daemon = script.index("cat > /etc/docker/daemon.json")
    install = script.index("apt-get install -y -q docker.io docker-compose")
    assert group < daemon < install
    logs_only, full = (part.split("JSON\n", 1)[0] for part in script[daemon:].split("<<'JSON'\n")[1:3])
    assert json.loads(full) == {
        "log-driver": "json-file",
        "log-opts": {"max-size": "1m", "max-file": "3"},
        "data-root": "/app/docker",
    }
    # A host whose Docker already keeps containers elsewhere keeps its data root (moving it would hide them).
    assert json.loads(logs_only) == {"log-driver": "json-file", "log-opts": {"max-size": "1m", "max-file": "3"}}
    for folder, owner in (("/app", '"$login_user:$group"'), ("/app/dev", '"$login_user:$group"'),
                          ("/app/dev/etc-ssh", "-R root:root"), ("/app/docker", "-R root:root")):  # fmt: skip
        assert f"mkdir -p {folder}\n" in script and f"chown {owner} {folder}\n" in script
    assert 'for port in "$ssh_port" $session_port; do ufw allow "$port/tcp"; done' in script
    assert "ufw allow 443/tcp" in script and 'if [ "$firewall" = none ]' in script
    assert "unattended-upgrades" in script


def cloud_init_schema(tmp_path, document: str) -> subprocess.CompletedProcess[str]:
    """Runs Debian's `cloud-init schema` on a user-data document."""
    cloud_init_cli = tool("cloud-init")
    path = tmp_path / "user-data.yaml"
    path.write_text(document)
    return subprocess.run([cloud_init_cli, "schema", "--config-file", str(path)], capture_output=True, text=True)


@pytest.mark.slow
def test_user_data_passes_cloud_init_schema(tmp_path):
    result = cloud_init_schema(tmp_path, user_data())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid" in result.stdout


@pytest.mark.slow
def test_cloud_init_schema_rejects_a_broken_document(tmp_path):
    """Proves the check above can fail: cloud-init must refuse an invalid key type."""
    result = cloud_init_schema(tmp_path, user_data().replace("package_update: true", "package_update: sometimes"))
    assert result.returncode != 0


def test_only_the_containers_using_the_role_reach_the_metadata_service_and_never_the_proxy():
    platform = acme()
    lab = host_firewall.imds_access(topology.server_set(platform, platform.labs[0]))
    proxy = next(s for s in topology.server_set(platform, platform.labs[0]).containers if s.name == "reverse_proxy")
    assert set(lab.denied) == {proxy.addresses[lab_host.NETWORK_PROD], proxy.addresses[lab_host.NETWORK_DEV]}
    assert set(lab.allowed) == {
        lab_host.CLOUD_SUBNETS[lab_host.NETWORK_PROD],
        lab_host.CLOUD_SUBNETS[lab_host.NETWORK_DEV],
    }
    assert platform.space is not None
    space_set = topology.server_set(platform, platform.space)
    space = host_firewall.imds_access(space_set)
    application = next(s for s in space_set.containers if s.name == "space")
    assert space.allowed == tuple(sorted(application.addresses.values())) and space.denied == ()
    rules = host_firewall.DockerFirewall(("203.0.113.0/24",), (), space).rules()
    assert rules.endswith("-A CONSTELLAB-IMDS -j DROP\nCOMMIT\n"), "everyone else, the space's Traefik included"


def test_a_container_on_a_network_that_reaches_the_role_must_be_pinned_to_be_kept_away():
    import dataclasses

    platform = acme()
    server_set = topology.server_set(platform, platform.labs[0])
    unpinned = tuple(dataclasses.replace(spec, addresses={}) for spec in server_set.containers)
    with pytest.raises(ValueError, match="reverse_proxy is on gencovery-network-dev, which reaches the instance role"):
        host_firewall.imds_access(dataclasses.replace(server_set, containers=unpinned))


def test_codelabs_published_ssh_answers_only_the_administrators_ipv4_networks():
    firewall = host_firewall.DockerFirewall(("198.51.100.0/26", "2001:db8::/32"), (lab_host.CODELAB_SSH_PORT,))
    assert firewall.rules() == (
        "*filter\n:CONSTELLAB-ADMIN - [0:0]\n-A CONSTELLAB-ADMIN -s 198.51.100.0/26 -j RETURN\n"
        "-A CONSTELLAB-ADMIN -j DROP\nCOMMIT\n"
    )
    assert firewall.jumps() == [
        "-p tcp -m conntrack --ctstate DNAT --ctorigdstport 2222 --ctdir ORIGINAL -j CONSTELLAB-ADMIN"
    ]
