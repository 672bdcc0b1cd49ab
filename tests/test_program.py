"""The real program under Pulumi's mock engine: what each shipped stack declares."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import threading

import bcrypt
import pulumi
import pytest

import program
from ops.offline import is_secret, quiescent, reveal
from tests.conftest import STACK_NAMES, containers_of, declared, env_of, networks_of, of_type

LAB_CONTAINERS = {"traefik", "lab-manager", "front", "glab", "db-prod", "codelab", "db-dev", "db-test"}
DATABASE_PORTS = {3306, 5432, 27017, 6379, 1433, 1521}


@pytest.mark.parametrize("stack", STACK_NAMES)
@pulumi.runtime.test
def test_every_shipped_stack_declares_its_servers_with_unique_urns(engine_for, stack):
    engine = engine_for(stack)

    def check(registrations):
        urns = [r.urn for r in registrations]
        assert len(urns) == len(set(urns)), "duplicate URNs would be rejected by a real deployment"
        hosts = {r.name for r in registrations if r.type == "constellab:host:ServerHost"}
        expected = {f"{engine.settings.platform.customer}-{s.name}-host" for _, s in engine.settings.platform.servers()}
        assert hosts == expected

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_each_lab_and_hub_runs_the_reference_container_set(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        assert set(containers_of(registrations, "lab1")) == LAB_CONTAINERS | {"db-biota"}
        assert set(containers_of(registrations, "hub")) == LAB_CONTAINERS
        # lab2 has no dev environment: no Codelab, no dev or test database.
        assert set(containers_of(registrations, "lab2")) == {"traefik", "lab-manager", "front", "glab", "db-prod"}
        assert set(containers_of(registrations, "space")) == {"traefik", "space", "db-space"}

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_prod_and_dev_databases_never_share_a_network(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        lab = containers_of(registrations, "lab1")
        assert networks_of(lab["db-prod"]) == {"prod"}
        assert networks_of(lab["db-dev"]) == {"dev"}
        assert networks_of(lab["db-test"]) == {"dev"}
        assert networks_of(lab["glab"]) == {"prod"}
        assert networks_of(lab["codelab"]) == {"dev"}
        assert networks_of(lab["db-biota"]) == {"prod", "dev"}
        assert networks_of(lab["lab-manager"]) == {"manager"}

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_biota_database_is_read_only_and_only_where_the_brick_is(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        biota = containers_of(registrations, "lab1")["db-biota"]
        assert "--read-only=1" in biota.inputs["command"]
        assert "db-biota" not in containers_of(registrations, "hub")
        assert env_of(containers_of(registrations, "lab1")["glab"])["GWS_BIOTA_DB_HOST"] == "db-biota"
        assert "GWS_BIOTA_DB_HOST" not in env_of(containers_of(registrations, "hub")["glab"])

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_no_database_port_is_published_and_only_web_and_codelab_ssh_are(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        published: dict[str, set[int]] = {}
        for container in of_type(registrations, "docker:index/container:Container"):
            for port in container.inputs.get("ports", []):
                published.setdefault(container.inputs["name"], set()).add(int(port["external"]))
        assert published == {"traefik": {80, 443}, "codelab": {2222}}
        assert not any(ports & DATABASE_PORTS for ports in published.values())

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_glab_and_codelab_get_the_environment_contract_of_the_images(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        lab = containers_of(registrations, "lab1")
        glab, codelab = env_of(lab["glab"]), env_of(lab["codelab"])
        contract = {
            "LAB_ID", "LAB_NAME", "LAB_MODE", "LAB_ENVIRONMENT", "LAB_PROD_API_URL", "LAB_DEV_API_URL",
            "LAB_MANAGER_API_URL", "SPACE_API_URL", "SPACE_FRONT_URL", "SPACE_API_KEY", "FRONT_URL", "VIRTUAL_HOST",
            "COMMUNITY_API_URL", "COMMUNITY_FRONT_URL", "COMMUNITY_API_KEY", "APP_EXTERNAL_PORT", "APP_SUB_DOMAIN",
            "GWS_CORE_DB_HOST", "GWS_CORE_DB_USER", "GWS_CORE_DB_PASSWORD", "GWS_CORE_DB_NAME", "GWS_CORE_DB_PORT",
        }  # fmt: skip
        assert contract <= set(glab)
        assert contract | {"GWS_TEST_DB_HOST", "GWS_TEST_DB_PASSWORD"} <= set(codelab)
        assert (glab["LAB_MODE"], glab["GWS_CORE_DB_HOST"], glab["APP_SUB_DOMAIN"]) == ("prod", "db-prod", "app")
        assert (codelab["LAB_MODE"], codelab["GWS_CORE_DB_HOST"], codelab["APP_SUB_DOMAIN"]) == (
            "dev",
            "db-dev",
            "appdev",
        )
        assert glab["VIRTUAL_HOST"] == "glab.lab1.acme.constellab.app"
        manager = env_of(lab["lab-manager"])
        assert {"VIRTUAL_HOST", "LAB_MANAGER_API_KEY", "ENVIRONMENT_PROFILE"} <= set(manager)
        assert manager["BACKUP_S3_BUCKET"].startswith("acme-lab1-backups-")

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_persistent_data_lives_under_the_data_root(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        lab = containers_of(registrations, "lab1")
        mounts = {
            role: {v["hostPath"]: v["containerPath"] for v in c.inputs.get("volumes", [])} for role, c in lab.items()
        }
        assert mounts["db-prod"] == {"/app/gws_db/gws_core/prod": "/var/lib/mysql"}
        assert mounts["db-dev"] == {"/app/gws_db/gws_core/dev": "/var/lib/mysql"}
        assert mounts["db-test"] == {}, "the test database is throw-away"
        assert mounts["db-biota"] == {"/app/gws_db/gws_biota": "/var/lib/mysql"}
        assert "/app/prod/lab" in mounts["glab"]
        assert mounts["lab-manager"]["/var/run/docker.sock"] == "/var/run/docker.sock"
        socket_users = {role for role, m in mounts.items() if "/var/run/docker.sock" in m}
        assert socket_users == {"lab-manager", "traefik"}

    return declared(engine).apply(check)


SENSITIVE_SETTINGS = ("PASSWORD=", "API_KEY=", "SECRET_ACCESS_KEY=", "TOKEN=")


@pulumi.runtime.test
def test_containers_settings_that_carry_a_secret_and_the_credentials_output_are_secret(engine_for):
    engine = engine_for("biolab-hybrid")
    platform = program.build(engine.stack, engine.settings)

    def check(args):
        _, credentials_are_secret = args
        assert credentials_are_secret
        sensitive_settings = 0
        for container in of_type(engine.registrations, "docker:index/container:Container"):
            envs = container.inputs.get("envs", [])
            for entry in reveal(envs):
                if any(key in entry for key in SENSITIVE_SETTINGS):
                    # The engine keeps secrecy per input: one secret entry makes the whole list secret.
                    assert is_secret(envs), f"{container.name}: {entry.split('=')[0]} is plain"
                    sensitive_settings += 1
            uploads = container.inputs.get("uploads", [])
            for upload in reveal(uploads):
                if upload["file"].startswith("/run/secrets/"):
                    assert is_secret(uploads), f"{container.name}: {upload['file']} is plain"
                    assert upload["permissions"] == "0400"
                    sensitive_settings += 1
        assert sensitive_settings >= 20  # two servers' databases, glab and Codelab settings, manager keys
        return credentials_are_secret

    credentials_are_secret: pulumi.Output[bool] = pulumi.Output.from_input(
        asyncio.ensure_future(platform.credentials.is_secret())
    )
    return pulumi.Output.all(quiescent(), credentials_are_secret).apply(check)


@pulumi.runtime.test
def test_stateful_resources_are_protected_and_retained_on_delete(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        stateful = of_type(registrations, "aws:s3/bucket:Bucket") + of_type(registrations, "aws:ebs/volume:Volume")
        assert len(stateful) == 5 + 4
        passwords = of_type(registrations, "random:index/randomPassword:RandomPassword")
        database_passwords = [r for r in passwords if "-db-" in r.name]
        assert len(database_passwords) >= 2 * 4, "every server has a prod database with two passwords"
        stateful += database_passwords
        unprotected = [r.name for r in stateful if not (r.protect and r.retain_on_delete)]
        assert unprotected == []
        instances = of_type(registrations, "aws:ec2/instance:Instance")
        assert all(not r.protect for r in instances), "instances are replaceable: their data is on the volume"

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_buckets_are_private_versioned_encrypted_tls_only_with_lifecycle(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        buckets = of_type(registrations, "aws:s3/bucket:Bucket")

        def settings_of(token):
            return {r.parent: r for r in of_type(registrations, token)}

        for bucket in buckets:
            component = bucket.parent
            block = settings_of("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[component].inputs
            assert all(
                block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
            )
            ownership = settings_of("aws:s3/bucketOwnershipControls:BucketOwnershipControls")[component].inputs
            assert ownership["rule"]["objectOwnership"] == "BucketOwnerEnforced"
            versioning = settings_of("aws:s3/bucketVersioning:BucketVersioning")[component].inputs
            assert versioning["versioningConfiguration"]["status"] == "Enabled"
            encryption = settings_of(
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
            )[component].inputs
            assert encryption["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] in ("AES256", "aws:kms")
            lifecycle = settings_of("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")[component]
            assert any("abortIncompleteMultipartUpload" in rule for rule in lifecycle.inputs["rules"])
            policy = json.loads(settings_of("aws:s3/bucketPolicy:BucketPolicy")[component].inputs["policy"])
            deny = policy["Statement"][0]
            assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            assert bucket.outputs["arn"] in deny["Resource"]

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_backup_bucket_expires_daily_and_weekly_prefixes_as_configured(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        lifecycle = next(
            r
            for r in of_type(registrations, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
            if r.name == "acme-hub-backups-lifecycle"
        )
        expirations = {
            rule["filter"]["prefix"]: rule["expiration"]["days"]
            for rule in lifecycle.inputs["rules"]
            if "expiration" in rule
        }
        hub = engine.settings.platform.hubs[0]
        assert expirations == {"daily/": hub.backup.daily_days, "weekly/": hub.backup.weekly_days}

    return declared(engine).apply(check)


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


@pulumi.runtime.test
def test_each_server_gets_dns_only_records_for_its_host_and_wildcard(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        addresses = {e.parent: e.outputs["publicIp"] for e in of_type(registrations, "aws:ec2/eip:Eip")}
        records = of_type(registrations, "cloudflare:index/dnsRecord:DnsRecord")
        names = {r.inputs["name"] for r in records}
        for _, server in engine.settings.platform.servers():
            host = f"{server.name}.acme.constellab.app"
            assert {host, f"*.{host}"} <= names
        assert all(r.inputs["proxied"] is False and r.inputs["type"] == "A" for r in records)
        assert {r.inputs["content"] for r in records} == set(addresses.values())
        assert all(r.provider.startswith("urn:pulumi:acme-cloud::constellab::") for r in records)

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_customer_managed_dns_exports_the_records_to_create(engine_for):
    engine = engine_for("pharma-onprem")
    registrations = declared(engine)
    exported = pulumi.runtime.get_root_resource().outputs["dnsRecords"]  # type: ignore[union-attr]

    def check(values):
        registered, records = values
        assert not of_type(registered, "cloudflare:index/dnsRecord:DnsRecord")
        assert not of_type(registered, "pulumi:providers:cloudflare")
        assert {(r["name"], r["content"]) for r in records} == {
            ("hub.constellab.pharma.example", "192.0.2.10"),
            ("*.hub.constellab.pharma.example", "192.0.2.10"),
            ("qc.constellab.pharma.example", "192.0.2.11"),
            ("*.qc.constellab.pharma.example", "192.0.2.11"),
        }

    return pulumi.Output.all(registrations, exported).apply(check)


@pulumi.runtime.test
def test_iam_policies_grant_each_server_only_its_own_prefixes(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        policies = {
            r.name: json.loads(r.inputs["policy"]) for r in of_type(registrations, "aws:iam/rolePolicy:RolePolicy")
        }
        buckets = {r.name: r.outputs["bucket"] for r in of_type(registrations, "aws:s3/bucket:Bucket")}
        lake = buckets["acme-hub-data-lake-bucket"]
        lab1 = policies["acme-lab1-host-identity-buckets"]["Statement"]
        object_statements = [s for s in lab1 if "s3:ListBucket" not in s["Action"]]
        resources = {s["Resource"] for s in object_statements}
        backups = buckets["acme-lab1-backups-bucket"]
        assert resources == {
            f"arn:aws:s3:::{backups}/daily/*",
            f"arn:aws:s3:::{backups}/weekly/*",
            f"arn:aws:s3:::{lake}/labs/lab1/*",
        }
        every_action = {a for s in lab1 for a in s["Action"]}
        assert "s3:DeleteObject" not in every_action and not any("*" in a for a in every_action)
        hub = policies["acme-hub-host-identity-buckets"]["Statement"]
        hub_resources = {s["Resource"] for s in hub}
        assert f"arn:aws:s3:::{lake}/*" in hub_resources
        assert "arn:aws:s3:::acme-sequencer-exports/runs/*" in hub_resources
        source = next(s for s in hub if s["Resource"] == "arn:aws:s3:::acme-sequencer-exports/runs/*")
        assert set(source["Action"]) <= {"s3:GetObject", "s3:GetObjectVersion"}
        for statements in policies.values():
            for statement in statements["Statement"]:
                assert statement["Resource"] != "*"

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_containers_wait_for_docker_on_a_fresh_instance(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        ready = of_type(registrations, "command:remote:Command")
        assert len(ready) == 4
        assert all("cloud-init status --wait" in r.inputs["create"] for r in ready)
        providers = of_type(registrations, "pulumi:providers:docker")
        # The provider's host is derived from the readiness command's output, so it cannot connect earlier.
        assert all(p.inputs["host"].startswith("ssh://admin@203.0.113.") for p in providers)
        ready_urns = {r.urn for r in ready}
        assert all(set(p.dependencies) & ready_urns for p in providers)
        provider_urns = {p.urn for p in providers}
        containers = of_type(registrations, "docker:index/container:Container")
        assert containers and all(c.provider.rsplit("::", 1)[0] in provider_urns for c in containers)

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_only_the_cloud_manager_network_has_the_fixed_subnet_the_metadata_firewall_trusts(engine_for):
    engine = engine_for("biolab-hybrid")

    def check(registrations):
        subnets = {
            r.name: [c.get("subnet") for c in r.inputs.get("ipamConfigs", [])]
            for r in of_type(registrations, "docker:index/network:Network")
            if r.inputs["name"] == "manager"
        }
        assert subnets == {
            "biolab-analysis-host-containers-net-manager": ["172.30.253.0/24"],
            "biolab-hub-host-containers-net-manager": [],
        }

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_local_stack_needs_no_aws_and_no_dns(engine_for):
    engine = engine_for("local")

    def check(registrations):
        packages = {r.type.split(":")[0] for r in registrations if r.custom}
        assert packages <= {"docker", "random", "pulumi"}
        provider = of_type(registrations, "pulumi:providers:docker")[0]
        assert provider.inputs["host"] == "unix:///var/run/docker.sock"
        assert set(containers_of(registrations, "lab")) == LAB_CONTAINERS

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_on_prem_docker_is_reached_over_ssh_with_the_configured_port(engine_for):
    engine = engine_for("pharma-onprem")

    def check(registrations):
        hosts = {p.name: p.inputs["host"] for p in of_type(registrations, "pulumi:providers:docker")}
        assert hosts == {"pharma-hub-host-docker": "ssh://constellab@10.20.0.10:22",
                         "pharma-qc-host-docker": "ssh://ops@10.20.0.11:2200"}  # fmt: skip
        assert not of_type(registrations, "aws:ec2/instance:Instance")
        lab = containers_of(registrations, "qc")
        assert networks_of(lab["db-prod"]) == {"prod"}
        mounts = {v["hostPath"] for v in containers_of(registrations, "hub")["db-prod"].inputs["volumes"]}
        assert mounts == {"/srv/constellab/gws_db/gws_core/prod"}

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
def test_codelab_htpasswd_is_a_bcrypt_of_the_configured_password_and_secret(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        proxy = containers_of(registrations, "lab1")["traefik"]
        htpasswd, secret, permissions = uploads_of(proxy)["/etc/traefik/secrets/codelab.htpasswd"]
        assert secret and permissions == "0400"
        user, hashed = htpasswd.strip().split(":", 1)
        assert user == "codelab"
        assert bcrypt.checkpw(b"offline-placeholder-codelabPassword", hashed.encode())
        assert not bcrypt.checkpw(b"another-password", hashed.encode())
        assert "/etc/traefik/secrets/codelab.htpasswd" not in uploads_of(
            containers_of(registrations, "lab2")["traefik"]
        )

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_acme_servers_get_the_cloudflare_token_as_a_secret_file(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        proxy = containers_of(registrations, "hub")["traefik"]
        token, secret, permissions = uploads_of(proxy)["/run/secrets/cf_dns_api_token"]
        assert secret and permissions == "0400" and token == "offline-placeholder-cloudflareApiToken"
        assert env_of(proxy)["CF_DNS_API_TOKEN_FILE"] == "/run/secrets/cf_dns_api_token"
        assert "CF_DNS_API_TOKEN" not in env_of(proxy)

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_a_manual_certificate_is_delivered_with_its_key_as_a_secret_file(engine_for):
    engine = engine_for("pharma-onprem")

    def check(registrations):
        hub = uploads_of(containers_of(registrations, "hub")["traefik"])
        chain = engine.settings.platform.hubs[0].certificates.certificate_chain
        assert hub["/etc/traefik/certs/server.crt"][0] == chain
        key, secret, permissions = hub["/etc/traefik/certs/server.key"]
        assert secret and permissions == "0400" and key == "offline-placeholder-key-hub"
        assert "/run/secrets/cf_dns_api_token" not in hub
        qc = uploads_of(containers_of(registrations, "qc")["traefik"])
        assert "/etc/traefik/certs/server.key" not in qc, "qc uses Traefik's default certificate"

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_a_scheduled_lab_gets_start_and_stop_schedules_in_its_time_zone(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        lab1 = {r.name: r for r in of_type(registrations, "aws:scheduler/schedule:Schedule") if "-lab1-" in r.name}
        instance = next(r for r in of_type(registrations, "aws:ec2/instance:Instance") if "-lab1-" in r.name)
        assert set(lab1) == {"acme-lab1-host-power-period0-start", "acme-lab1-host-power-period0-stop"}
        start, stop = lab1["acme-lab1-host-power-period0-start"], lab1["acme-lab1-host-power-period0-stop"]
        assert start.inputs["scheduleExpression"] == "cron(0 8 ? * MON,TUE,WED,THU,FRI *)"
        assert stop.inputs["scheduleExpression"] == "cron(0 19 ? * MON,TUE,WED,THU,FRI *)"
        for schedule in (start, stop):
            assert schedule.inputs["scheduleExpressionTimezone"] == "Europe/Paris"
            assert schedule.inputs["flexibleTimeWindow"] == {"mode": "OFF"}
            assert schedule.inputs["state"] == "ENABLED"
            target = schedule.inputs["target"]
            assert json.loads(target["input"]) == {"InstanceIds": [instance.id]}
            assert target["retryPolicy"]["maximumRetryAttempts"] >= 1
        assert start.inputs["target"]["arn"] == "arn:aws:scheduler:::aws-sdk:ec2:startInstances"
        assert stop.inputs["target"]["arn"] == "arn:aws:scheduler:::aws-sdk:ec2:stopInstances"

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_the_scheduler_role_may_only_start_and_stop_its_own_instance(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        role = next(
            r for r in of_type(registrations, "aws:iam/role:Role") if r.name == "acme-lab1-host-power-scheduler"
        )
        trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert [s["Principal"] for s in trust] == [{"Service": "scheduler.amazonaws.com"}]
        assert trust[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
        policy = next(
            r
            for r in of_type(registrations, "aws:iam/rolePolicy:RolePolicy")
            if r.name.endswith("-lab1-host-power-scheduler-power")
        )
        statements = json.loads(policy.inputs["policy"])["Statement"]
        instance = next(r for r in of_type(registrations, "aws:ec2/instance:Instance") if "-lab1-" in r.name)
        assert statements == [
            {
                "Sid": "StartAndStopThisInstance",
                "Effect": "Allow",
                "Action": ["ec2:StartInstances", "ec2:StopInstances"],
                "Resource": instance.outputs["arn"],
            }
        ]

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_idle_stop_is_a_cpu_alarm_whose_action_stops_the_instance(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        alarm = next(
            r
            for r in of_type(registrations, "aws:cloudwatch/metricAlarm:MetricAlarm")
            if r.name.endswith("lab1-host-power-idle-stop")
        )
        instance = next(r for r in of_type(registrations, "aws:ec2/instance:Instance") if "-lab1-" in r.name)
        inputs = alarm.inputs
        assert (inputs["namespace"], inputs["metricName"]) == ("AWS/EC2", "CPUUtilization")
        assert inputs["dimensions"] == {"InstanceId": instance.id}
        assert inputs["comparisonOperator"] == "LessThanThreshold" and inputs["threshold"] == 5
        assert inputs["period"] * inputs["evaluationPeriods"] == 60 * 60
        assert inputs["alarmActions"] == ["arn:aws:automate:eu-west-3:ec2:stop"]
        assert inputs["actionsEnabled"] is True

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_hubs_and_the_space_are_never_scheduled_and_recover_automatically(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        schedules = of_type(registrations, "aws:scheduler/schedule:Schedule")
        assert schedules and not [s.name for s in schedules if "-hub-" in s.name or "-space-" in s.name]
        alarms = {r.name: r for r in of_type(registrations, "aws:cloudwatch/metricAlarm:MetricAlarm")}
        for server in ("hub", "space"):
            recover = alarms[f"acme-{server}-host-power-auto-recover"].inputs
            assert recover["metricName"] == "StatusCheckFailed_System"
            assert recover["alarmActions"] == ["arn:aws:automate:eu-west-3:ec2:recover"]
            assert not [name for name in alarms if name.startswith(f"acme-{server}-") and "idle" in name]
        assert not [
            r
            for r in of_type(registrations, "aws:ec2transitgateway/instanceState:InstanceState")
            if "-lab2-" not in r.name
        ]

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_a_parked_lab_stays_stopped_and_its_schedules_never_fire(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        states = of_type(registrations, "aws:ec2transitgateway/instanceState:InstanceState")
        instance = next(r for r in of_type(registrations, "aws:ec2/instance:Instance") if "-lab2-" in r.name)
        assert [(s.inputs["instanceId"], s.inputs["state"]) for s in states] == [(instance.id, "stopped")]
        containers = {c.urn for c in containers_of(registrations, "lab2").values()}
        assert containers and containers <= set(states[0].dependencies), "parking waits for the containers"
        lab2 = [s for s in of_type(registrations, "aws:scheduler/schedule:Schedule") if "-lab2-" in s.name]
        assert len(lab2) == 2 and all(s.inputs["state"] == "DISABLED" for s in lab2)
        volume = next(r for r in of_type(registrations, "aws:ebs/volume:Volume") if "-lab2-" in r.name)
        assert volume.protect and volume.retain_on_delete, "parking never touches the data"

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_weekly_hours_and_saving_are_exported_per_scheduled_lab(engine_for):
    engine = engine_for("acme-cloud")
    registrations = declared(engine)
    servers = pulumi.runtime.get_root_resource().outputs["servers"]  # type: ignore[union-attr]

    def check(values):
        _, exported = values
        assert (exported["lab1"]["weeklyRunningHours"], exported["lab1"]["savingPercent"]) == (55.0, 67.3)
        assert exported["lab2"]["state"] == "stopped"
        assert "weeklyRunningHours" not in exported["hub"]

    return pulumi.Output.all(registrations, servers).apply(check)


@pulumi.runtime.test
def test_the_offline_engine_answers_every_registration_in_the_programs_own_thread(engine_for):
    # Parallel previews fork after a first run: worker threads left behind by the SDK's RPC pool would
    # make that fork unsafe, and every hand-off to them costs time for an answer computed in-process.
    engine = engine_for("biolab-hybrid")
    answered_on: set[int] = set()
    answer = engine.mocks.new_resource

    def answer_recording_thread(args):
        answered_on.add(threading.get_ident())
        return answer(args)

    engine.mocks.new_resource = answer_recording_thread

    def check(registrations):
        assert len(registrations) > 100
        assert answered_on == {threading.get_ident()}
        return registrations

    return declared(engine).apply(check)
