"""The real program under Pulumi's mock engine: what each shipped stack declares."""

from __future__ import annotations

import ipaddress
import json
import threading

import pulumi
import pytest

from tests.conftest import STACK_NAMES, containers_of, declared, of_type

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


POWER_GATE = "pulumi-python:dynamic/power:Gate"


@pulumi.runtime.test
@pulumi.runtime.test
@pulumi.runtime.test
@pulumi.runtime.test
@pulumi.runtime.test
@pulumi.runtime.test
@pulumi.runtime.test
@pulumi.runtime.test
@pytest.mark.parametrize("stack", ["acme-cloud", "biolab-hybrid"])
def test_stateful_resources_are_protected_and_retained_on_delete(engine_for, stack):
    engine = engine_for(stack)

    def check(registrations):
        stateful = of_type(registrations, "aws:s3/bucket:Bucket") + of_type(registrations, "aws:ebs/volume:Volume")
        # A space storage bucket, a hub data lake, two backup buckets per hub or lab; a data volume per cloud server.
        assert len(stateful) == {"acme-cloud": 2 + 2 * 3 + 4, "biolab-hybrid": 1 + 2 * 2 + 1}[stack]
        passwords = of_type(registrations, "random:index/randomPassword:RandomPassword")
        # The space's database (two passwords), and the prod and dev databases of a lab the stack configures.
        database_passwords = [r for r in passwords if "-db-" in r.name]
        assert len(database_passwords) == {"acme-cloud": 2, "biolab-hybrid": 2}[stack]
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
def test_each_backup_bucket_keeps_previous_versions_for_its_frequencys_retention(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        lifecycles = {
            r.name: r.inputs["rules"]
            for r in of_type(registrations, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
        }
        hub = engine.settings.platform.hubs[0]
        for frequency, days in (("daily", hub.backup.daily_days), ("weekly", hub.backup.weekly_days)):
            rules = lifecycles[f"acme-hub-backups-{frequency}-lifecycle"]
            # The lab manager mirrors with rclone sync: history is in versions, current objects never expire.
            kept = [
                rule["noncurrentVersionExpiration"]["noncurrentDays"]
                for rule in rules
                if "noncurrentVersionExpiration" in rule
            ]
            assert kept == [days]
            expirations = [rule["expiration"] for rule in rules if "expiration" in rule]
            assert expirations == [{"expiredObjectDeleteMarker": True}], "only the markers of expired versions go"

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
            r.name: json.loads(r.inputs["policy"])
            for r in of_type(registrations, "aws:iam/rolePolicy:RolePolicy")
            + of_type(registrations, "aws:iam/userPolicy:UserPolicy")
        }
        buckets = {r.name: r.outputs["bucket"] for r in of_type(registrations, "aws:s3/bucket:Bucket")}
        lake = buckets["acme-hub-data-lake-bucket"]
        lab1 = policies["acme-lab1-host-identity-buckets"]["Statement"]
        object_statements = [s for s in lab1 if "s3:ListBucket" not in s["Action"]]
        assert {s["Resource"] for s in object_statements} == {f"arn:aws:s3:::{lake}/labs/lab1/*"}
        every_action = {a for s in lab1 for a in s["Action"]}
        assert "s3:DeleteObject" not in every_action and not any("*" in a for a in every_action)
        # The key the Space hands the lab manager for its backups: its own two buckets only.
        daily, weekly = buckets["acme-lab1-backups-daily-bucket"], buckets["acme-lab1-backups-weekly-bucket"]
        backup = policies["acme-lab1-backups-identity-buckets"]["Statement"]
        assert {s["Resource"] for s in backup if "s3:ListBucket" not in s["Action"]} == {
            f"arn:aws:s3:::{daily}/*",
            f"arn:aws:s3:::{weekly}/*",
        }
        assert not {a for s in backup for a in s["Action"]} & {"s3:DeleteObjectVersion", "s3:PutBucketPolicy"}
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
@pulumi.runtime.test
@pulumi.runtime.test
@pulumi.runtime.test
@pulumi.runtime.test
@pulumi.runtime.test
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
        gates = [r for r in of_type(registrations, POWER_GATE) if "-hub-" in r.name or "-space-" in r.name]
        assert len(gates) == 4 and {g.inputs["declared"] for g in gates} == {"running"}
        assert not [g for g in gates if g.inputs.get("schedule") or g.inputs.get("idle_stop")]

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_a_parked_lab_stays_stopped_and_its_schedules_never_fire(engine_for):
    engine = engine_for("acme-cloud")

    def check(registrations):
        instance = next(r for r in of_type(registrations, "aws:ec2/instance:Instance") if "-lab2-" in r.name)
        gates = {r.inputs["role"]: r for r in of_type(registrations, POWER_GATE) if "-lab2-" in r.name}
        assert set(gates) == {"wake", "settle"}
        assert {(g.inputs["instance_id"], g.inputs["declared"]) for g in gates.values()} == {(instance.id, "stopped")}
        containers = {c.urn for c in containers_of(registrations, "lab2").values()}
        assert containers and containers <= set(gates["settle"].dependencies), "it is put back once deployed"
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
