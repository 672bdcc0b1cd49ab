"""Pure renderers, without Pulumi: names, topology, Traefik, IAM documents, cloud-init."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from constellab import cloud_init, iam, naming, topology, traefik
from constellab.settings import load_stack_file
from tests.conftest import stack_file, tool

VOLUME = "vol-0123456789abcdef0"


def acme():
    return load_stack_file(stack_file("acme-cloud")).platform


def user_data() -> str:
    platform = acme()
    lab = platform.labs[0]
    return cloud_init.render_user_data(
        server_name=lab.name,
        volume_id=VOLUME,
        ssh_public_keys=list(platform.ssh_public_keys),
        manager_subnet=topology.MANAGER_SUBNET,
    )


@pytest.mark.parametrize(
    ("instance_type", "architecture"),
    [("t3.large", "x86_64"), ("m7g.large", "arm64"), ("c6gn.xlarge", "arm64"), ("g5.xlarge", "x86_64"),
     ("m6idn.large", "x86_64"), ("r8gd.2xlarge", "arm64"), ("a1.medium", "arm64")],
)  # fmt: skip
def test_instance_architecture_is_read_from_the_family(instance_type, architecture):
    assert naming.instance_architecture(instance_type) == architecture


def test_bucket_prefixes_fit_aws_limits_and_stay_readable():
    prefix = naming.bucket_prefix("a-very-long-customer-name", "an-even-longer-lab-name", "backups")
    assert len(prefix) <= 37 and prefix.endswith("-backups-") and prefix.startswith("a-very-long")
    assert naming.bucket_prefix("acme", "lab1", "data") == "acme-lab1-data-"


def test_a_lab_without_dev_environment_runs_no_codelab_and_no_dev_databases():
    platform = acme()
    specs = topology.containers_for(platform, platform.labs[1])
    roles = {spec.role for spec in specs}
    assert roles == {"traefik", "lab-manager", "front", "glab", "db-prod"}
    assert all("dev" not in spec.networks for spec in specs)


def test_every_generated_secret_is_a_password_or_key():
    platform = acme()
    names = topology.generated_secret_names(topology.containers_for(platform, platform.labs[0]))
    assert "lab-manager-api-key" in names
    assert {"db-prod-password", "db-prod-root-password", "db-biota-password", "db-test-password"} <= set(names)
    assert not set(names) & topology.CONFIGURED_SECRETS


SENSITIVE_SUFFIXES = ("PASSWORD", "API_KEY", "SECRET_ACCESS_KEY", "TOKEN")


@pytest.mark.parametrize("stack", ["acme-cloud", "biolab-hybrid", "pharma-onprem", "local"])
def test_every_password_key_and_token_a_container_gets_is_a_secret_reference(stack):
    platform = load_stack_file(stack_file(stack)).platform
    sensitive = 0
    for _, server in platform.servers():
        for spec in topology.containers_for(platform, server):
            for key, value in spec.env.items():
                if key.endswith(SENSITIVE_SUFFIXES):
                    assert isinstance(value, topology.Ref) and value.secret, f"{server.name}/{spec.role}: {key}"
                    sensitive += 1
            for file in spec.files:
                if file.path.startswith("/run/secrets/"):
                    assert isinstance(file.content, topology.Ref) and file.content.secret, file.path
                    assert file.mode == 0o400, file.path
                    sensitive += 1
    assert sensitive >= 10  # every server has database passwords and a lab manager key at least


def test_traefik_static_config_redirects_to_https_and_uses_a_wildcard_certificate():
    config = traefik.static_config("lab1.acme.example", "acme", "ops@acme.example")
    redirect = config["entryPoints"]["web"]["http"]["redirections"]["entryPoint"]
    assert redirect == {"to": "websecure", "scheme": "https", "permanent": True}
    tls = config["entryPoints"]["websecure"]["http"]["tls"]
    assert tls["domains"] == [{"main": "lab1.acme.example", "sans": ["*.lab1.acme.example"]}]
    acme_resolver = config["certificatesResolvers"][tls["certResolver"]]["acme"]
    assert acme_resolver["dnsChallenge"]["provider"] == "cloudflare"
    assert config["api"]["insecure"] is False
    assert config["providers"]["docker"]["exposedByDefault"] is False


def test_traefik_without_acme_uses_its_default_certificate():
    config = traefik.static_config("lab.localhost", "default")
    assert "certificatesResolvers" not in config
    assert config["entryPoints"]["websecure"]["http"]["tls"] == {}


def test_app_routes_use_traefik_v3_regular_expressions():
    rules = {route.name: route.rule for route in traefik.routes("lab1.acme.example", "lab", True)}
    assert rules["glab-apps"] == r"HostRegexp(`^app-[a-z0-9-]+\.lab1\.acme\.example$`)"
    assert rules["codelab-apps"] == r"HostRegexp(`^appdev-[a-z0-9-]+\.lab1\.acme\.example$`)"
    codelab = next(route for route in traefik.routes("lab1.acme.example", "lab", True) if route.name == "codelab")
    assert codelab.basic_auth and codelab.service_url == "http://codelab:8080"


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


def test_user_data_mounts_the_data_volume_before_docker_starts():
    document = yaml.safe_load(user_data())
    commands = [" ".join(command) for command in document["runcmd"]]
    mount = next(i for i, c in enumerate(commands) if "constellab-mount-data" in c)
    install = next(i for i, c in enumerate(commands) if "docker.io" in c)
    assert mount < install
    files = {f["path"]: f["content"] for f in document["write_files"]}
    script = files["/usr/local/sbin/constellab-mount-data"]
    assert 'volume_id="vol0123456789abcdef0"' in script
    assert "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$volume_id" in script
    assert 'if ! blkid "$device"' in script, "an existing filesystem is never formatted again"
    assert "mkdir -p /app/docker" in script
    units = files["/etc/systemd/system/docker.service.d/10-constellab-data.conf"]
    assert "RequiresMountsFor=/app" in units, "Docker never starts on an unmounted /app"
    guard = files["/etc/systemd/system/constellab-imds-guard.service"]
    assert f"! -s {topology.MANAGER_SUBNET} -j DROP" in guard
    daemon = yaml.safe_load(files["/etc/docker/daemon.json"])
    assert daemon["data-root"] == "/app/docker"
    assert daemon["log-opts"] == {"max-size": "1m", "max-file": "3"}


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
