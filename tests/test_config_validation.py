"""Stack-file validation: each invalid value is refused with its field path, all at once."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from constellab.config import CloudPlacement
from constellab.settings import (
    PLATFORM_KEY,
    RawStackConfig,
    SecretState,
    StackConfigError,
    load_stack_file,
    read_stack_file,
    validate,
)
from tests.conftest import STACK_NAMES, stack_file

ALL_SECRETS = {
    "constellab:cloudflareApiToken": SecretState.SECRET,
    "constellab:acmeDnsApiToken": SecretState.SECRET,
    "constellab:spaceApiKeys": SecretState.SECRET,
    "constellab:communityApiKey": SecretState.SECRET,
    "constellab:codelabTokens": SecretState.SECRET,
    "constellab:labManagerApiKeys": SecretState.SECRET,
}
SECRET_MAPS = ("constellab:labManagerApiKeys", "constellab:spaceApiKeys", "constellab:codelabTokens")
SERVER_NAMES = frozenset({"space", "hub", "lab1", "lab2"})
"""Every name the tests' platforms use: each secret map has a member for each."""
STACK_CONFIGURATION = {
    "mode": "stack",
    "labId": "2b6f3a9c-1d4e-4f7a-9b8c-5e0d1a2c3f4b",
    "frontVersion": "2.5.3",
    "glabTag": "2.10.0",
    "bricks": [{"name": "gws_core", "version": "0.18.4"}],
}


def valid_platform() -> dict[str, Any]:
    """The shipped cloud customer's platform document, as a starting point to break."""
    document = yaml.safe_load(stack_file("acme-cloud").read_text())
    return copy.deepcopy(document["config"][PLATFORM_KEY])


def problems(
    platform: Any, secrets: dict[str, SecretState] | None = None, region: str | None = "eu-west-3"
) -> list[str]:
    values: dict[str, Any] = {PLATFORM_KEY: platform}
    if region:
        values["aws:region"] = region
    raw = RawStackConfig(
        values=values,
        secrets=ALL_SECRETS if secrets is None else secrets,
        secret_members=dict.fromkeys(SECRET_MAPS, SERVER_NAMES),
    )
    with pytest.raises(StackConfigError) as caught:
        validate(raw, "test")
    return [str(issue) for issue in caught.value.issues]


def set_path(document: dict[str, Any], path: str, value: Any) -> None:
    """Sets `a.b[1].c` in a nested document; the value `...` deletes the key."""
    parts = path.replace("[", ".[").split(".")
    target: Any = document
    for part in parts[:-1]:
        target = target[int(part[1:-1])] if part.startswith("[") else target[part]
    last = parts[-1]
    if value is ...:
        del target[last]
    elif last.startswith("["):
        target[int(last[1:-1])] = value
    else:
        target[last] = value


INVALID_FIELDS = [
    ("customer", "Acme Corp", "customer: 'Acme Corp' is not a DNS label"),
    ("baseDomain", "acme..example", "baseDomain: 'acme..example' is not a domain name"),
    ("dns.zoneId", "not-a-zone", "dns.zoneId: 'not-a-zone' is not a Cloudflare zone id"),
    ("dns.provider", "route53", "dns.provider: 'route53' is not one of 'cloudflare', 'none'"),
    ("adminCidrs", ["0.0.0.0/0"], "adminCidrs[0]: '0.0.0.0/0' opens SSH to the whole internet"),
    ("adminCidrs", ["203.0.113.7/24"], "adminCidrs[0]: '203.0.113.7/24' is not a network in CIDR notation"),
    ("sshPublicKeys", ["hello"], "sshPublicKeys[0]: not an OpenSSH public key"),
    ("images.labManager", "constellab/lab-manager", "images.labManager: 'constellab/lab-manager' has no tag"),
    ("images.space", "constellab/space:latest", "images.space: 'constellab/space:latest' uses the moving tag"),
    ("images.traefik", "traefik:stable", "images.traefik: 'traefik:stable' uses the moving tag"),
    ("images.glab", "constellab/glab:0.12.3", "images.glab: the lab manager runs glab at the tag the Space sets"),
    ("images.front", "constellab/lab-front:2.4.1", "images.front: the lab manager runs the front at the version"),
    ("images.database", "mariadb:11.4.8", "images.database: the lab manager runs the lab's databases"),
    ("environmentProfile", "staging", "environmentProfile: 'staging' is not one of 'prod', 'pre-prod'"),
    (
        "endpoints.spaceApiUrl",
        "http://api.example.com",
        "endpoints.spaceApiUrl: 'http://api.example.com' is not an https URL",
    ),
    ("network.subnetCidr", "10.99.0.0/24", "network.subnetCidr: subnetCidr 10.99.0.0/24 is not inside vpcCidr"),
    ("network.mode", "borrowed", "network.mode: 'borrowed' is not one of 'create', 'existing'"),
    ("space.placement.kind", "onPrem", "space.placement.kind: must be 'cloud', not 'onPrem'"),
    ("hubs[0].name", "Hub_1", "hubs[0].name: 'Hub_1' is not a DNS label"),
    ("hubs[0].externalSources[0].prefix", "/runs", "hubs[0].externalSources[0].prefix: '/runs' is not a key prefix"),
    ("hubs[0].backup.weeklyDays", 3, "hubs[0].backup.weeklyDays: must be at least 7, not 3"),
    (
        "labs[0].placement.dataDiskGb",
        30,
        "labs[0].placement.dataDiskGb: the biota brick needs a data disk of at least 50 GB",
    ),
    ("labs[1].placement.instanceType", "large", "labs[1].placement.instanceType: 'large' is not an EC2 instance type"),
    (
        "labs[1].placement.instanceType",
        "t3.xlarg",
        "labs[1].placement.instanceType: 't3.xlarg' is not an EC2 instance type",
    ),
    ("acmeEmail", "platform-at-acme", "acmeEmail: 'platform-at-acme' is not an email address"),
    (
        "hubs[0].placement.instanceType",
        "m5d.large",
        "hubs[0].placement.instanceType: 'm5d.large' is not an instance type the guardrails allow: pick one of the "
        "families t3, t3a, m6i, m7i, m6a, m7a, m7g, c6i, c7i, c7g, r6i, r7i, r7g",
    ),
    (
        "space.placement.instanceType",
        "m7g.metal",
        "space.placement.instanceType: bare metal instances cannot be recovered",
    ),
    (
        "hubs[0].placement.instanceType",
        "m7i.metal-24xl",
        "hubs[0].placement.instanceType: bare metal instances cannot be recovered, and this server is always on",
    ),
    ("labs[1].placement.kind", "clod", "labs[1].placement.kind: 'clod' is not one of 'cloud', 'onPrem', 'local'"),
    ("labs[1].bricks", ["biota", "alphafold"], "labs[1].bricks[1]: must be 'biota', not 'alphafold'"),
    ("labs[1].placement.instanceTyp", "t3.large", "labs[1].placement.instanceTyp: unknown field: remove it"),
    ("labs[1].devEnvironment", False, "labs[1].devEnvironment: the lab manager always runs Codelab"),
    (
        "hubs[0].placement",
        {"kind": "onPrem", "sshHost": "hub.acme.internal", "publicAddress": "198.51.100.7", "dataRoot": "/srv/x"},
        "hubs[0].placement.dataRoot: the data root is /app on every lab host",
    ),
    ("labs[1].configuration", {"mode": "manual"}, "labs[1].configuration.mode: 'manual' is not one of"),
    ("labs[1].configuration", {**STACK_CONFIGURATION, "labId": "a b"}, "labs[1].configuration.labId: 'a b' is not"),
    (
        "labs[1].configuration",
        {**STACK_CONFIGURATION, "frontVersion": "latest"},
        "labs[1].configuration.frontVersion: 'latest' is not a pinned version",
    ),
    (
        "labs[1].configuration",
        {**STACK_CONFIGURATION, "bricks": [{"name": "gws_omix", "version": "1.0.0"}]},
        "labs[1].configuration.bricks: gws_core is always a brick of a lab",
    ),
    (
        "labs[1].configuration",
        {**STACK_CONFIGURATION, "bricks": [{"name": "gws_core", "version": "1"}, {"name": "gws_core", "version": "2"}]},
        "labs[1].configuration.bricks[1].name: 'gws_core' is listed twice",
    ),
    (
        "labs[1].configuration",
        {
            **STACK_CONFIGURATION,
            "bricks": [{"name": "gws_core", "version": "1"}, {"name": "gws_biota", "version": "2"}],
        },
        "labs[1].configuration.biotaDatadirUrl: the gws_biota brick needs the URL",
    ),
    (
        "labs[1].configuration",
        {**STACK_CONFIGURATION, "variables": {"SMTP_PASSWORD": "x"}},
        "labs[1].configuration.variables: 'SMTP_PASSWORD' looks like a secret",
    ),
    (
        "labs[1].configuration",
        {
            **STACK_CONFIGURATION,
            "git": [
                {
                    "source": "https://github.com",
                    "packages": [{"name": "gws_x", "branch": "main", "commit": "latest", "version": "1.0.0"}],
                }
            ],
        },
        "labs[1].configuration.git[0].packages[0].commit: 'latest' is not a git commit (7 to 40 lowercase hexadecimal",
    ),
    ("labs[0].configuration", STACK_CONFIGURATION, "labs[0].bricks: with configuration.mode stack, list bricks"),
    ("hubs[0].certificates", {"mode": "httpreq"}, "hubs[0].certificates.endpoint: required: add it"),
    ("labs[1].backup", {"dailyDays": 20, "weeklyDays": 10}, "labs[1].backup.weeklyDays: weeklyDays (10) is shorter"),
    ("labs[1].placement", ..., "labs[1].placement: required: add it"),
    ("labs[1].name", "hub", "labs[1].name: 'hub' is already the name of hubs[0]"),
    ("labs[1].hub", "hub2", "labs[1].hub: no hub named 'hub2' (hubs: hub)"),
    ("space.storage", {"kind": "hub", "hub": "lake"}, "space.storage.hub: no hub named 'lake'"),
    ("images.space", ..., "images.space: a space is declared: pin its image here"),
    ("adminCidrs", [], "adminCidrs: cloud servers are administered over SSH"),
    ("hubs[0].certificates", {"mode": "letsencrypt"}, "hubs[0].certificates.mode: 'letsencrypt' is not one of"),
    (
        "labs[0].schedule.timezone",
        "Europe/Pariss",
        "labs[0].schedule.timezone: 'Europe/Pariss' is not an IANA time zone",
    ),
    ("labs[0].schedule.periods[0].start", "8h", "labs[0].schedule.periods[0].start: '8h' is not a time of day"),
    ("labs[0].schedule.periods[0].stop", "08:00", "labs[0].schedule.periods[0].stop: stop equals start"),
    ("labs[0].schedule.periods[0].days", ["mon", "mon"], "labs[0].schedule.periods[0].days: a day is listed twice"),
    (
        "labs[0].schedule.periods[0].days",
        ["monday"],
        "labs[0].schedule.periods[0].days[0]: 'monday' is not one of 'mon', 'tue'",
    ),
    (
        "labs[0].schedule.periods",
        [
            {"days": ["mon", "tue"], "start": "08:00", "stop": "19:00"},
            {"days": ["tue"], "start": "18:00", "stop": "20:00"},
        ],
        "labs[0].schedule.periods[1]: periods[1] overlaps or touches periods[0] on tue: merge them into one period",
    ),
    ("labs[0].idleStop.minutes", 2, "labs[0].idleStop.minutes: must be at least 10, not 2"),
    ("labs[0].state", "paused", "labs[0].state: 'paused' is not one of 'running', 'stopped'"),
    (
        "hubs[0].schedule",
        {"timezone": "UTC", "periods": [{"days": ["mon"], "start": "08:00", "stop": "09:00"}]},
        "hubs[0].schedule: hubs are always on (they hold the company's data): remove schedule",
    ),
    ("hubs[0].idleStop", {"minutes": 30}, "hubs[0].idleStop: hubs are always on"),
    ("hubs[0].state", "stopped", "hubs[0].state: hubs are always on"),
    ("space.schedule", {"timezone": "UTC", "periods": []}, "space.schedule: unknown field: remove it"),
    (
        "labs[0].certificates",
        {"mode": "manual", "certificateChain": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"},
        "labs[0].certificates.certificateChain: holds a private key in plain text",
    ),
    (
        "labs[0].certificates",
        {"mode": "manual", "certificateChain": "hello"},
        "labs[0].certificates.certificateChain: not a PEM certificate chain",
    ),
]


@pytest.mark.parametrize(
    ("path", "value", "expected"), INVALID_FIELDS, ids=[f"{p}={v!r}" for p, v, _ in INVALID_FIELDS]
)
def test_an_invalid_field_is_refused_with_its_path(path, value, expected):
    platform = valid_platform()
    set_path(platform, path, value)
    found = problems(platform)
    assert any(line.startswith(expected) for line in found), found


def test_every_problem_is_reported_at_once():
    platform = valid_platform()
    set_path(platform, "customer", "ACME")
    set_path(platform, "images.traefik", "traefik:latest")
    set_path(platform, "labs[1].placement.instanceType", "huge")
    set_path(platform, "labs[0].name", "hub")
    secrets = {k: v for k, v in ALL_SECRETS.items() if k != "constellab:cloudflareApiToken"}
    found = problems(platform, secrets={**secrets, "constellab:communityApiKey": SecretState.PLAIN})
    assert [line.split(": ", 1)[0] for line in found] == [
        "customer",
        "images.traefik",
        "labs[1].placement.instanceType",
        "labs[0].name",
        "constellab:cloudflareApiToken",
        "constellab:communityApiKey",
    ]


def test_a_secret_stored_in_plain_text_is_refused_with_the_fix():
    found = problems(valid_platform(), secrets={**ALL_SECRETS, "constellab:communityApiKey": SecretState.PLAIN})
    assert found == [
        "constellab:communityApiKey: is stored in plain text: remove it and run "
        "`pulumi config set --secret communityApiKey <value>` "
        "(API key for Constellab Community (the space, and labs configured by the stack))"
    ]


@pytest.mark.parametrize(("old", "new"), [("spaceApiKey", "spaceApiKeys"), ("codelabPassword", "codelabTokens")])
def test_a_stack_wide_key_of_earlier_versions_is_refused_with_its_per_lab_replacement(old, new):
    found = problems(valid_platform(), secrets={**ALL_SECRETS, f"constellab:{old}": SecretState.SECRET})
    assert found == [
        f"constellab:{old}: replaced by {new}, one per server the stack configures (each lab has its own in the "
        f"Space): remove it and run `pulumi config set --secret --path '{new}.<server>' <value>` for each"
    ]


def test_the_space_configures_a_lab_only_with_the_key_it_generated_for_it():
    raw = RawStackConfig(
        values={PLATFORM_KEY: valid_platform(), "aws:region": "eu-west-3"},
        secrets=ALL_SECRETS,
        secret_members={"constellab:labManagerApiKeys": frozenset({"hub", "lab2"})},
    )
    with pytest.raises(StackConfigError) as caught:
        validate(raw, "test")
    assert [str(issue) for issue in caught.value.issues] == [
        "constellab:labManagerApiKeys.lab1: missing: lab1's lab manager takes the API key the Space generated for it "
        "(it calls the Space with it, for its backups too): create the lab in the Space and run "
        "`pulumi config set --secret --path 'labManagerApiKeys.lab1' <key>`"
    ]


def test_a_lab_the_stack_configures_takes_the_spaces_keys_for_it_too():
    platform = valid_platform()
    platform["labs"][1]["configuration"] = STACK_CONFIGURATION
    raw = RawStackConfig(
        values={PLATFORM_KEY: platform, "aws:region": "eu-west-3"},
        secrets=ALL_SECRETS,
        secret_members={"constellab:labManagerApiKeys": frozenset({"hub", "lab1"}),
                        "constellab:spaceApiKeys": frozenset({"lab1"}), "constellab:codelabTokens": frozenset()},
    )  # fmt: skip
    with pytest.raises(StackConfigError) as caught:
        validate(raw, "test")
    assert [issue.path for issue in caught.value.issues] == [
        "constellab:spaceApiKeys.lab2",
        "constellab:codelabTokens.lab2",
        "constellab:labManagerApiKeys.lab2",
    ]


def test_openai_is_handed_to_a_lab_only_with_its_secret():
    platform = valid_platform()
    platform["labs"][1]["configuration"] = {**STACK_CONFIGURATION, "openai": True}
    assert problems(platform) == [
        "constellab:openaiApiKey: missing: run `pulumi config set --secret openaiApiKey <value>` "
        "(OpenAI API key for labs with configuration.openai: true)"
    ]


def test_a_cloud_lab_the_stack_configures_needs_a_certificate_that_can_be_checked():
    platform = valid_platform()
    platform["dns"] = {"provider": "none"}
    platform["labs"][1]["configuration"] = STACK_CONFIGURATION
    assert problems(platform) == [
        "labs[1].certificates.mode: a cloud lab the stack configures receives its secrets over the network: give it "
        "a certificate that can be checked (acme, httpreq or manual), not Traefik's own"
    ]


def test_a_local_lab_uses_this_machines_docker_socket():
    document = yaml.safe_load(stack_file("local").read_text())
    platform = document["config"][PLATFORM_KEY]
    platform["labs"][0]["placement"]["dockerHost"] = "tcp://10.0.0.5:2375"
    raw = RawStackConfig(values={PLATFORM_KEY: platform}, secrets=ALL_SECRETS,
                         secret_members=dict.fromkeys(SECRET_MAPS, frozenset({"lab"})))  # fmt: skip
    with pytest.raises(StackConfigError) as caught:
        validate(raw, "test")
    assert [issue.path for issue in caught.value.issues] == ["labs[0].placement.dockerHost"]


def test_a_local_lab_must_be_configured_by_the_stack():
    document = yaml.safe_load(stack_file("local").read_text())
    platform = document["config"][PLATFORM_KEY]
    del platform["labs"][0]["configuration"]
    raw = RawStackConfig(values={PLATFORM_KEY: platform}, secrets=ALL_SECRETS, secret_members={
        "constellab:labManagerApiKeys": frozenset({"lab"})})  # fmt: skip
    with pytest.raises(StackConfigError) as caught:
        validate(raw, "test")
    assert [str(issue) for issue in caught.value.issues] == [
        "labs[0].configuration.mode: the Space cannot reach a lab on this machine: set configuration.mode to stack "
        "and declare the lab's configuration"
    ]


def test_a_missing_secret_is_named():
    secrets = {k: v for k, v in ALL_SECRETS.items() if k != "constellab:cloudflareApiToken"}
    found = problems(valid_platform(), secrets=secrets)
    assert len(found) == 1 and found[0].startswith(
        "constellab:cloudflareApiToken: missing: run `pulumi config set --secret"
    )


def test_on_prem_lab_hosts_need_the_administrator_networks_codelabs_ssh_answers():
    document = yaml.safe_load(stack_file("pharma-onprem").read_text())["config"][PLATFORM_KEY]
    del document["adminCidrs"]
    raw = RawStackConfig(
        values={PLATFORM_KEY: document, "aws:region": "eu-west-1"},
        secrets={**ALL_SECRETS, "constellab:tlsPrivateKeys": SecretState.SECRET},
        secret_members={"constellab:tlsPrivateKeys": frozenset({"hub"}),
                        **dict.fromkeys(SECRET_MAPS, frozenset({"hub", "qc"}))},
    )  # fmt: skip
    with pytest.raises(StackConfigError) as caught:
        validate(raw, "test")
    assert [str(issue) for issue in caught.value.issues] == [
        "adminCidrs: the lab manager publishes Codelab's SSH (2222) past the host firewall, and only the "
        "administrator networks may reach it: list at least one"
    ]


def test_a_lab_may_use_types_ec2_cannot_recover_it_has_no_recover_alarm():
    platform = valid_platform()
    set_path(platform, "labs[1].placement.instanceType", "m7i.metal-24xl")
    raw = RawStackConfig(
        values={PLATFORM_KEY: platform, "aws:region": "eu-west-3"},
        secrets=ALL_SECRETS,
        secret_members={"constellab:labManagerApiKeys": SERVER_NAMES},
    )
    placement = validate(raw, "test").platform.labs[1].placement
    assert isinstance(placement, CloudPlacement) and placement.instance_type == "m7i.metal-24xl"


def test_keys_that_would_not_fit_in_the_instance_tags_are_refused():
    platform = valid_platform()
    rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAACAQ" + "A" * 700 + " ops@acme"
    platform["sshPublicKeys"] = [rsa] * 12
    found = problems(platform)
    assert found == [
        "sshPublicKeys: these keys take 47 instance tags, more than the 30 they may (each tag holds 256 "
        "characters): list fewer keys, or ed25519 keys, which are shorter"
    ]


def test_traefiks_dns_challenge_token_is_a_secret_of_its_own():
    secrets = {k: v for k, v in ALL_SECRETS.items() if k != "constellab:acmeDnsApiToken"}
    found = problems(valid_platform(), secrets=secrets)
    assert len(found) == 1 and found[0].startswith(
        "constellab:acmeDnsApiToken: missing: run `pulumi config set --secret acmeDnsApiToken <value>` "
        "(Cloudflare API token the servers' Traefik uses for DNS-01 only"
    )


def test_cloudflare_tokens_are_not_required_with_customer_managed_dns():
    platform = valid_platform()
    platform["dns"] = {"provider": "none"}
    secrets = {
        k: v for k, v in ALL_SECRETS.items() if k not in ("constellab:cloudflareApiToken", "constellab:acmeDnsApiToken")
    }
    raw = RawStackConfig(
        values={PLATFORM_KEY: platform, "aws:region": "eu-west-3"},
        secrets=secrets,
        secret_members={"constellab:labManagerApiKeys": SERVER_NAMES},
    )
    settings = validate(raw, "test")
    assert settings.secret_keys and all("cloudflare" not in key.purpose.lower() for key in settings.secret_keys)
    assert "constellab:cloudflareApiToken" not in {key.key for key in settings.secret_keys}


def test_a_cloud_stack_without_a_region_is_refused():
    assert problems(valid_platform(), region=None) == ["aws:region: missing: set the AWS region (e.g. eu-west-3)"]


@pytest.mark.parametrize("region", ["Paris", "eu-west", "eu_west_3", "eu-west-3 "])
def test_a_region_that_is_not_an_aws_region_is_refused(region):
    assert problems(valid_platform(), region=region) == [
        f"aws:region: {region!r} is not an AWS region (e.g. eu-west-3)"
    ]


def test_an_unknown_constellab_key_is_refused():
    raw = RawStackConfig(
        values={PLATFORM_KEY: valid_platform(), "aws:region": "eu-west-3", "constellab:platfrom": {}},
        secrets=ALL_SECRETS,
    )
    with pytest.raises(StackConfigError) as caught:
        validate(raw, "test")
    assert str(caught.value.issues[0]).startswith("constellab:platfrom: unknown setting")


def test_local_servers_cannot_share_a_stack_with_cloud_servers():
    platform = valid_platform()
    platform["labs"][1]["placement"] = {"kind": "local"}
    found = problems(platform)
    assert "labs[1].placement.kind: 'local' cannot be mixed with cloud or onPrem servers: " in found[0]


@pytest.mark.parametrize("stack", STACK_NAMES)
def test_every_shipped_stack_validates(stack):
    settings = load_stack_file(stack_file(stack))
    assert settings.platform.servers()


def test_a_plain_secret_in_a_stack_file_is_detected(tmp_path: Path):
    document = yaml.safe_load(stack_file("local").read_text())
    document["config"]["constellab:communityApiKey"] = "sk-live-123"
    path = tmp_path / "Pulumi.leaky.yaml"
    path.write_text(yaml.safe_dump(document))
    assert read_stack_file(path).secrets["constellab:communityApiKey"] is SecretState.PLAIN
    with pytest.raises(StackConfigError, match="constellab:communityApiKey: is stored in plain text"):
        load_stack_file(path)


@pytest.mark.parametrize("stored", [[1, 2], 7, "", None])
def test_a_secret_whose_secure_value_is_not_pulumis_ciphertext_is_refused(tmp_path: Path, stored):
    document = yaml.safe_load(stack_file("local").read_text())
    document["config"]["constellab:communityApiKey"] = {"secure": stored}
    path = tmp_path / "Pulumi.mangled.yaml"
    path.write_text(yaml.safe_dump(document))
    assert read_stack_file(path).secrets["constellab:communityApiKey"] is SecretState.MALFORMED
    with pytest.raises(StackConfigError) as caught:
        load_stack_file(path)
    assert [str(issue) for issue in caught.value.issues] == [
        "constellab:communityApiKey: `secure:` does not hold the ciphertext Pulumi writes: remove it and run "
        "`pulumi config set --secret communityApiKey <value>` (API key for Constellab Community (the space, "
        "and labs configured by the stack))"
    ]


def test_a_yaml_error_names_the_line(tmp_path: Path):
    path = tmp_path / "Pulumi.broken.yaml"
    path.write_text("config:\n  constellab:platform: {customer: [acme\n")
    with pytest.raises(StackConfigError, match=r"not valid YAML: line \d+, column \d+"):
        load_stack_file(path)


def test_a_file_that_is_not_utf8_names_the_byte(tmp_path: Path):
    path = tmp_path / "Pulumi.latin.yaml"
    path.write_bytes(b"config:\n  constellab:platform:\n    customer: caf\xe9\n")
    with pytest.raises(StackConfigError, match=r"not UTF-8 text \(byte 48\): save the file as UTF-8"):
        load_stack_file(path)


def test_a_misspelled_top_level_key_is_refused(tmp_path: Path):
    path = tmp_path / "Pulumi.typo.yaml"
    path.write_text(stack_file("local").read_text().replace("config:", "confg:", 1))
    with pytest.raises(StackConfigError) as caught:
        load_stack_file(path)
    assert [str(issue) for issue in caught.value.issues] == [
        "confg: unknown top-level key: a stack file has config, encryptedkey, encryptionsalt, environment, "
        "secretsprovider"
    ]


def test_a_key_given_twice_is_refused_with_its_line(tmp_path: Path):
    path = tmp_path / "Pulumi.twice.yaml"
    path.write_text(
        stack_file("local").read_text().replace("    customer: local\n", "    customer: a\n    customer: b\n")
    )
    with pytest.raises(StackConfigError, match=r"line 8, column 5: 'customer' is given twice in this mapping"):
        load_stack_file(path)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("labs", {"name": "lab1"}, "labs: must be a list (one `- item` per line), not a mapping"),
        ("labs[0]", 5, "labs[0]: must be a mapping (`key: value` lines), not 5"),
        ("customer", ["acme"], "customer: must be text, not a list"),
    ],
)
def test_a_value_of_the_wrong_kind_is_named_in_yaml_terms_only(path, value, expected):
    platform = valid_platform()
    set_path(platform, path, value)
    assert problems(platform) == [expected]


def test_acme_certificates_need_cloudflare_dns():
    platform = valid_platform()
    platform["dns"] = {"provider": "none"}
    platform["hubs"][0]["certificates"] = {"mode": "acme"}
    found = problems(platform)
    assert found == [
        "hubs[0].certificates.mode: acme solves DNS-01 in Cloudflare: set dns.provider to cloudflare, "
        "or use manual (your certificate) or default"
    ]


def test_a_manual_certificate_needs_its_private_key_in_secret_config():
    document = yaml.safe_load(stack_file("pharma-onprem").read_text())
    config = document["config"]
    raw = RawStackConfig(
        values={PLATFORM_KEY: config[PLATFORM_KEY], "aws:region": "eu-west-1"},
        secrets={**ALL_SECRETS, "constellab:tlsPrivateKeys": SecretState.SECRET},
        secret_members={
            "constellab:tlsPrivateKeys": frozenset({"qc"}),
            **dict.fromkeys(SECRET_MAPS, frozenset({"hub", "qc"})),
        },
    )
    with pytest.raises(StackConfigError) as caught:
        validate(raw, "test")
    assert [str(issue) for issue in caught.value.issues] == [
        "constellab:tlsPrivateKeys.hub: missing: the manual certificate needs its key, run "
        "`pulumi config set --secret --path 'tlsPrivateKeys.hub' -- \"$(cat hub.key)\"`"
    ]


def test_a_stack_file_with_a_plain_private_key_member_is_refused(tmp_path: Path):
    document = yaml.safe_load(stack_file("pharma-onprem").read_text())
    document["config"]["constellab:tlsPrivateKeys"] = {"hub": "-----BEGIN PRIVATE KEY-----"}
    path = tmp_path / "Pulumi.leaky.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(StackConfigError, match=r"constellab:tlsPrivateKeys\.hub: is stored in plain text"):
        load_stack_file(path)


def test_an_on_prem_lab_cannot_be_scheduled():
    document = yaml.safe_load(stack_file("pharma-onprem").read_text())
    platform = document["config"][PLATFORM_KEY]
    platform["labs"][0]["idleStop"] = {"minutes": 30}
    raw = RawStackConfig(
        values={PLATFORM_KEY: platform, "aws:region": "eu-west-1"},
        secrets={**ALL_SECRETS, "constellab:tlsPrivateKeys": SecretState.SECRET},
        secret_members={
            "constellab:tlsPrivateKeys": frozenset({"hub"}),
            **dict.fromkeys(SECRET_MAPS, frozenset({"hub", "qc"})),
        },
    )
    with pytest.raises(StackConfigError) as caught:
        validate(raw, "test")
    assert [str(issue) for issue in caught.value.issues] == [
        "labs[0].idleStop: only cloud labs can be started and stopped: remove it or place the lab in the cloud"
    ]


@pytest.mark.parametrize("instance_type", ["t3.nano", "m7i.metal-24xl", "c7g.16xlarge", "r7i.metal-48xl"])
def test_every_form_of_ec2_instance_type_the_guardrails_allow_is_accepted(instance_type):
    platform = valid_platform()
    set_path(platform, "labs[1].placement.instanceType", instance_type)
    assert CloudPlacement.model_validate({**platform["labs"][1]["placement"]}).instance_type == instance_type


@pytest.mark.parametrize("instance_type", ["t4g.micro", "m7i-flex.large", "c6in.metal", "u-6tb1.112xlarge"])
def test_a_real_instance_type_outside_the_guardrails_is_refused_as_such_not_as_a_typo(instance_type):
    platform = valid_platform()
    set_path(platform, "labs[1].placement.instanceType", instance_type)
    assert problems(platform) == [
        f"labs[1].placement.instanceType: {instance_type!r} is not an instance type the guardrails allow: pick one "
        "of the families t3, t3a, m6i, m7i, m6a, m7a, m7g, c6i, c7i, c7g, r6i, r7i, r7g (e.g. 't3.large', "
        "'m7i.xlarge')"
    ]


MANUAL_KEY_COMMAND = "pulumi config set --secret --path 'tlsPrivateKeys.<server>' -- \"$(cat key.pem)\""


def test_a_plain_manual_certificate_key_is_refused_with_the_per_server_command(tmp_path: Path):
    document = yaml.safe_load(stack_file("pharma-onprem").read_text())
    document["config"]["constellab:tlsPrivateKeys"] = {"hub": "-----BEGIN PRIVATE KEY-----"}
    assert problems_of_stack_text(tmp_path, yaml.safe_dump(document)) == [
        "constellab:tlsPrivateKeys.hub: is stored in plain text: remove it and run `pulumi config set --secret "
        "--path 'tlsPrivateKeys.hub' -- \"$(cat hub.key)\"` (PEM private keys of manual certificates, one per server "
        "name (a secret map))"
    ]


def test_a_malformed_member_of_a_secret_map_is_named(tmp_path: Path):
    document = yaml.safe_load(stack_file("acme-cloud").read_text())
    document["config"]["constellab:labManagerApiKeys"]["lab1"] = {"secure": [1, 2]}
    assert problems_of_stack_text(tmp_path, yaml.safe_dump(document)) == [
        "constellab:labManagerApiKeys.lab1: `secure:` does not hold the ciphertext Pulumi writes: remove it and run "
        "`pulumi config set --secret --path 'labManagerApiKeys.lab1' <value>` (the lab manager API key the Space "
        "generated for each hub and lab (a secret map; local labs get one here))"
    ]


def test_a_plain_secret_written_as_one_value_for_every_server_says_set_each_servers_member(tmp_path: Path):
    document = yaml.safe_load(stack_file("pharma-onprem").read_text())
    document["config"]["constellab:tlsPrivateKeys"] = "-----BEGIN PRIVATE KEY-----"
    assert problems_of_stack_text(tmp_path, yaml.safe_dump(document)) == [
        f"constellab:tlsPrivateKeys: is stored in plain text: remove it and run `{MANUAL_KEY_COMMAND}` for each "
        "server (PEM private keys of manual certificates, one per server name (a secret map))"
    ]


def test_a_private_key_pasted_in_the_certificate_chain_is_refused_with_the_per_server_command():
    platform = valid_platform()
    chain = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"
    set_path(platform, "labs[0].certificates", {"mode": "manual", "certificateChain": chain})
    assert problems(platform)[0] == (
        "labs[0].certificates.certificateChain: holds a private key in plain text: remove it, and store the key as "
        f"the server's secret with `{MANUAL_KEY_COMMAND}`"
    )


def test_the_editors_hint_for_each_secret_map_sets_one_servers_member():
    from constellab.schema import stack_file_schema

    properties = stack_file_schema()["properties"]["config"]["properties"]
    assert properties["constellab:tlsPrivateKeys"]["description"].endswith(f"Set it with `{MANUAL_KEY_COMMAND}`.")
    for secret in SECRET_MAPS:
        assert f"--path '{secret.split(':')[1]}.<server>'" in properties[secret]["description"], secret


def problems_of_stack_text(tmp_path: Path, text: str) -> list[str]:
    """The problems `ops validate` reports for a stack file as written (YAML's own reading included)."""
    path = tmp_path / "Pulumi.edited.yaml"
    path.write_text(text)
    with pytest.raises(StackConfigError) as caught:
        load_stack_file(path, require_secrets=False)
    return [str(issue) for issue in caught.value.issues]


def test_an_unquoted_time_that_yaml_reads_as_a_number_says_to_quote_it(tmp_path: Path):
    text = stack_file("acme-cloud").read_text().replace('stop: "19:00"', "stop: 19:00", 1)
    assert problems_of_stack_text(tmp_path, text) == [
        'labs[0].schedule.periods[0].stop: 19:00 was read by YAML as the number 1140: quote it ("19:00")'
    ]


def test_a_disk_size_written_as_yes_says_it_must_be_a_number_of_gb(tmp_path: Path):
    text = stack_file("acme-cloud").read_text().replace("dataDiskGb: 50\n", "dataDiskGb: yes\n", 1)
    assert problems_of_stack_text(tmp_path, text) == [
        "space.placement.dataDiskGb: must be a whole number of GB, not yes/true"
    ]


def test_a_bad_period_is_reported_once_without_the_list_length_it_leaves_behind():
    platform = valid_platform()
    set_path(platform, "labs[0].schedule.periods", [{"days": ["mon"], "start": "25:00", "stop": "19:00"}])
    assert problems(platform) == [
        "labs[0].schedule.periods[0].start: '25:00' is not a time of day as HH:MM (e.g. '08:30')"
    ]


def test_administrator_networks_that_together_span_the_internet_are_refused_on_the_first(tmp_path: Path):
    platform = valid_platform()
    set_path(platform, "adminCidrs", ["0.0.0.0/1", "128.0.0.0/1"])
    assert problems(platform) == [
        "adminCidrs[0]: '0.0.0.0/1' opens SSH to half the internet, wider than the /16 an administrator network "
        "may span: list your administrators' networks (each /16 or narrower)",
        "adminCidrs[1]: '128.0.0.0/1' opens SSH to half the internet, wider than the /16 an administrator network "
        "may span: list your administrators' networks (each /16 or narrower)",
    ]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("hubs[0].name", ["hub"], "hubs[0].name: must be text, not a list"),
        ("hubs[0].name", {"a": 1}, "hubs[0].name: must be text, not a mapping"),
        ("labs[0].hub", ["hub"], "labs[0].hub: must be text, not a list"),
        ("space.storage", {"kind": "hub", "hub": {"name": "hub"}}, "space.storage.hub: must be text, not a mapping"),
    ],
)
def test_a_server_name_that_is_not_text_is_refused_on_its_field_not_with_a_crash(path, value, expected):
    platform = valid_platform()
    set_path(platform, path, value)
    if path == "hubs[0].name":
        set_path(platform, "hubs[0].retired", True)  # the retired hubs' names are looked up too
    assert expected in problems(platform)


# Found by the fuzz tests (tests/test_fuzz_stack_files.py, issue 16): each with the smallest input that crashed or
# broke the one-problem-a-line form, and what is said instead.


def refusal_of(tmp_path: Path, content: str) -> list[str]:
    path = tmp_path / "Pulumi.fuzzed.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(StackConfigError) as caught:
        load_stack_file(path)
    return [str(issue) for issue in caught.value.issues]


def test_a_list_written_as_a_key_is_a_yaml_problem_on_its_line_not_a_crash(tmp_path: Path):
    assert refusal_of(tmp_path, "[]:\n") == [
        "not valid YAML: line 1, column 1: this key is a list: keys are text (quote it)"
    ]


def test_a_nul_byte_is_a_yaml_problem_on_one_line_with_its_line_and_column(tmp_path: Path):
    assert refusal_of(tmp_path, "config:\n  x: a\x00\n") == [
        "not valid YAML: line 2, column 7: character U+0000 is not allowed in YAML (control characters are not "
        'allowed): remove it, or write it "\\u0000" between double quotes'
    ]


@pytest.mark.parametrize(
    ("value", "read_as"),
    [
        ("2026-02-30", "a date"),
        ("!!float x", "a number"),
        ("!!int x", "a whole number"),
        ("!!bool maybe", "true or false"),
    ],
)
def test_a_scalar_yaml_reads_as_a_type_it_is_not_is_a_yaml_problem_not_a_crash(tmp_path: Path, value, read_as):
    (problem,) = refusal_of(tmp_path, f"config:\n  aws:region: {value}\n")
    shown = value.split()[-1]
    assert problem == f"not valid YAML: line 2, column 15: YAML reads {shown!r} as {read_as}, which it is not: quote " \
        "it to keep it as text"  # fmt: skip


def test_a_key_that_is_empty_or_breaks_the_line_is_quoted_in_the_problems_path(tmp_path: Path):
    assert refusal_of(tmp_path, "'': 1\n\"\\r\": 2\n") == [
        "'': unknown top-level key: a stack file has config, encryptedkey, encryptionsalt, environment, "
        "secretsprovider",
        "'\\r': unknown top-level key: a stack file has config, encryptedkey, encryptionsalt, environment, "
        "secretsprovider",
    ]
    platform = valid_platform()
    platform["labs"][0]["\r"] = 1
    assert problems(platform)[0].startswith("labs[0].'\\r': unknown field: remove it or use one of name, placement")
    raw = RawStackConfig(values={PLATFORM_KEY: valid_platform(), "aws:region": "eu-west-3", "constellab:\n": 1},
                         secrets=ALL_SECRETS, secret_members=dict.fromkeys(SECRET_MAPS, SERVER_NAMES))  # fmt: skip
    with pytest.raises(StackConfigError) as caught:
        validate(raw, "test")
    assert [issue.path for issue in caught.value.issues] == ["'constellab:\\n'"]


def test_a_server_whose_name_is_no_name_is_refused_on_its_name_without_asking_for_its_secrets():
    platform = valid_platform()
    platform["hubs"].append({"name": "\r", "placement": {"kind": "cloud"}})
    assert problems(platform) == [  # YAML's spaces around a value are dropped: '\r' is read as ''
        "hubs[1].name: '' is not a DNS label: use 1-63 lowercase letters, digits and inner hyphens (e.g. 'lab1')"
    ]


def test_an_administrator_network_listed_twice_is_refused_on_the_second_however_written():
    # Found by tests/test_fuzz_program.py: each server's firewall took the network twice, two resources of one URN.
    platform = valid_platform()
    platform["adminCidrs"] = ["192.52.192.0/19", "192.52.192.0/19", "2001:db8::/64", "2001:0db8:0::/64"]
    assert problems(platform) == [
        "adminCidrs[1]: '192.52.192.0/19' is the network of adminCidrs[0] again: list each network once",
        "adminCidrs[3]: '2001:0db8:0::/64' is the network of adminCidrs[2] again: list each network once",
    ]


def test_a_hub_name_holding_a_line_break_is_quoted_where_the_hubs_are_listed():
    # Found by bench/fuzz.py: a lab's unknown hub listed the hubs as written, one of them over two lines.
    platform = valid_platform()
    platform["hubs"][0]["name"] = "t\nY"
    found = problems(platform)
    assert "labs[0].hub: no hub named 'hub' (hubs: 't\\nY')" in found
    assert all(len(line.splitlines()) == 1 for line in found), found


def test_a_variable_name_holding_a_line_break_is_refused_on_one_line():
    # As the hubs above (bench/fuzz.py): the message quoted the name as written, over two lines.
    platform = valid_platform()
    platform["labs"][1]["configuration"] = {**STACK_CONFIGURATION, "variables": {"A\nB": "x"}}
    assert problems(platform) == [
        "labs[1].configuration.variables: 'A\\nB' is not an environment variable name (e.g. 'MY_SETTING')"
    ]
