"""Every guardrail: one violating and one compliant case, with the exact message; the shipped stacks pass."""

from __future__ import annotations

import json
import runpy
from typing import Any

import pulumi
import pytest

from offline.engine import Registration, quiescent
from offline.guardrails import evaluate
from policies.rules import ALL_RULES
from tests.conftest import ROOT, STACK_NAMES, declared

RULES = {rule.name: rule for rule in ALL_RULES}
STACK = "urn:pulumi:s::constellab::"


def res(
    kind: str,
    name: str,
    inputs: dict[str, Any] | None = None,
    *,
    protect: bool = False,
    retain: bool = False,
    deps: list[Registration] | None = None,
    input_deps: dict[str, list[Registration]] | None = None,
    provider: Registration | None = None,
    custom: bool = True,
) -> Registration:
    return Registration(
        urn=f"{STACK}{kind}::{name}",
        type=kind,
        name=name,
        parent="",
        custom=custom,
        id=f"{name}-id",
        provider=f"{provider.urn}::{provider.id}" if provider else "",
        protect=protect,
        retain_on_delete=retain,
        delete_before_replace=False,
        ignore_changes=[],
        dependencies=[d.urn for d in deps or []],
        inputs=inputs or {},
        outputs={},
        input_dependencies={key: [d.urn for d in found] for key, found in (input_deps or {}).items()},
    )


def messages(rule: str, *registrations: Registration, config: dict[str, Any] | None = None) -> list[str]:
    found = evaluate(list(registrations), [RULES[rule]], {rule: config} if config else None)
    return [violation.message for violation in found]


BUCKET = "aws:s3/bucket:Bucket"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_LOGGING = "aws:s3/bucketLogging:BucketLogging"
INSTANCE = "aws:ec2/instance:Instance"
VOLUME = "aws:ebs/volume:Volume"
EIP = "aws:ec2/eip:Eip"
EIP_ASSOCIATION = "aws:ec2/eipAssociation:EipAssociation"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
SCHEDULE = "aws:scheduler/schedule:Schedule"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
POWER = "pulumi-python:dynamic/power:Gate"
RECORD = "cloudflare:index/dnsRecord:DnsRecord"
CONTAINER = "docker:index/container:Container"
IMAGE = "docker:index/remoteImage:RemoteImage"
DOCKER_PROVIDER = "pulumi:providers:docker"

TAGS = {"constellab:stack": "s", "constellab:server": "lab1", "constellab:role": "lab"}
ALL_PUBLIC_BLOCKS = {
    "blockPublicAcls": True,
    "blockPublicPolicy": True,
    "ignorePublicAcls": True,
    "restrictPublicBuckets": True,
}
TLS_ONLY = json.dumps(
    {
        "Statement": [
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
        ]
    }
)  # fmt: skip
GOOD_INSTANCE = {
    "instanceType": "t3.large",
    "metadataOptions": {"httpTokens": "required"},
    "rootBlockDevice": {"encrypted": True},
    "iamInstanceProfile": "profile",
    "monitoring": True,
    "ebsOptimized": True,
    "tags": TAGS,
}
GOOD_CONTAINER = {"name": "space", "image": "sha256:" + "a" * 64, "restart": "unless-stopped", "envs": ["MODE=prod"]}
TRAEFIK_STATIC = "api:\n  insecure: false\nproviders:\n  docker:\n    exposedByDefault: false\n"
HARDENED_STATIC = "entryPoints:\n  websecure:\n    http:\n      middlewares: [security-headers@file]\n"
TLS12 = "tls:\n  options:\n    default:\n      minVersion: VersionTLS12\n"
LAB_NETWORKS = ("gencovery-network-manager", "gencovery-network-dev", "gencovery-network-prod")
NETWORK = "docker:index/network:Network"


def traefik(static: str) -> Registration:
    return res(CONTAINER, "lab-traefik", {**GOOD_CONTAINER, "name": "traefik",
                                          "uploads": [{"file": "/etc/traefik/traefik.yml", "content": static}]})  # fmt: skip


def proxy(static: str, dynamic: str, name: str = "lab1-proxy") -> Registration:
    uploads = [{"file": "/etc/traefik/traefik.yml", "content": static},
               {"file": "/etc/traefik/dynamic/core.yml", "content": dynamic}]  # fmt: skip
    return res(CONTAINER, name, {**GOOD_CONTAINER, "name": "reverse_proxy", "restart": "always", "uploads": uploads})


def lab_host(networks: tuple[str, ...], server: str = "lab1") -> list[Registration]:
    docker = res(DOCKER_PROVIDER, f"{server}-docker", {"host": f"ssh://admin@{server}.acme.example:22"})
    manager = res(CONTAINER, f"{server}-manager", {**GOOD_CONTAINER, "name": "lab_manager", "restart": "always"},
                  provider=docker)  # fmt: skip
    return [docker, manager, *(res(NETWORK, f"{server}-{name}", {"name": name}, provider=docker) for name in networks)]


LOG_TAGS = {"constellab:stack": "s", "constellab:server": "shared", "constellab:role": "access-logs"}
DESCRIBED_CHARACTERS = "say what the rule is for, in up to 255 of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=;{}!$*"


def access_logged(bucket: Registration, target: Registration, source_name: str, target_name: str) -> Registration:
    """A `BucketLogging` of `bucket` into `target`, as SecureBucket declares it (names as the engine resolved them)."""
    return res(BUCKET_LOGGING, f"{bucket.name}-access-logging",
               {"bucket": source_name, "targetBucket": target_name, "targetPrefix": f"{source_name}/"},
               deps=[bucket, target])  # fmt: skip


def bucket_with(*kinds: str) -> list[Registration]:
    bucket = res(BUCKET, "data-bucket", {"tags": TAGS}, protect=True, retain=True)
    return [bucket, *(res(kind, f"data-{kind.rsplit(':', 1)[-1]}", {"bucket": "b"}, deps=[bucket]) for kind in kinds)]


# (rule, violating resources, exact messages, compliant resources)
CASES: list[tuple[str, list[Registration], list[str], list[Registration]]] = [
    ("s3-public-access-block-all",
     [res(PAB, "pab", {**ALL_PUBLIC_BLOCKS, "restrictPublicBuckets": False})],
     ["pab (aws:BucketPublicAccessBlock): restrictPublicBuckets not true. Fix: set all four public-access settings to true"],
     [res(PAB, "pab", ALL_PUBLIC_BLOCKS)]),
    ("s3-ownership-enforced",
     [res(OWNERSHIP, "own", {"rule": {"objectOwnership": "ObjectWriter"}})],
     ["own (aws:BucketOwnershipControls): object ownership is 'ObjectWriter', so ACLs still apply. "
      "Fix: set rule.objectOwnership to BucketOwnerEnforced"],
     [res(OWNERSHIP, "own", {"rule": {"objectOwnership": "BucketOwnerEnforced"}})]),
    ("s3-versioning-enabled",
     [res(VERSIONING, "ver", {"versioningConfiguration": {"status": "Suspended"}})],
     ["ver (aws:BucketVersioning): versioning is 'Suspended'. Fix: set versioningConfiguration.status to Enabled"],
     [res(VERSIONING, "ver", {"versioningConfiguration": {"status": "Enabled"}})]),
    ("s3-encryption-enabled",
     [res(SSE, "sse", {"rules": []})],
     ["sse (aws:BucketServerSideEncryptionConfiguration): no default server-side encryption. "
      "Fix: add a rule with applyServerSideEncryptionByDefault.sseAlgorithm AES256 or aws:kms"],
     [res(SSE, "sse", {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]})]),
    ("s3-lifecycle-aborts-incomplete-uploads",
     [res(LIFECYCLE, "life", {"rules": [{"status": "Enabled", "expiration": {"days": 7}}]})],
     ["life (aws:BucketLifecycleConfiguration): incomplete multipart uploads are kept forever. "
      "Fix: add an enabled rule with abortIncompleteMultipartUpload.daysAfterInitiation"],
     [res(LIFECYCLE, "life", {"rules": [{"status": "Enabled", "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7}}]})]),
    ("s3-deny-insecure-transport",
     [res(BUCKET_POLICY, "pol", {"policy": json.dumps({"Statement": []})})],
     ["pol (aws:BucketPolicy): requests without TLS are not denied. Fix: add a Deny statement for all principals "
      'with Condition Bool "aws:SecureTransport": "false"'],
     [res(BUCKET_POLICY, "pol", {"policy": TLS_ONLY})]),
    ("s3-no-public-bucket-policy",
     [res(BUCKET_POLICY, "pol", {"policy": json.dumps({"Statement": [
         {"Sid": "Open", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "*"}]})})],
     ["pol (aws:BucketPolicy): statement Open allows everyone. Fix: name the principals that need access instead of '*'"],
     [res(BUCKET_POLICY, "pol", {"policy": TLS_ONLY})]),
    ("s3-bucket-fully-configured",
     bucket_with(PAB, OWNERSHIP, VERSIONING, SSE),
     ["data-bucket (aws:Bucket): lacks a lifecycle and a bucket policy. Fix: declare the bucket with the SecureBucket "
      "component"],
     bucket_with(PAB, OWNERSHIP, VERSIONING, SSE, LIFECYCLE, BUCKET_POLICY)),
    ("ec2-imdsv2-required",
     [res(INSTANCE, "vm", {**GOOD_INSTANCE, "metadataOptions": {"httpTokens": "optional"}})],
     ['vm (aws:Instance): the metadata service accepts IMDSv1 requests. Fix: set metadataOptions.httpTokens to "required"'],
     [res(INSTANCE, "vm", GOOD_INSTANCE)]),
    ("ec2-root-volume-encrypted",
     [res(INSTANCE, "vm", {**GOOD_INSTANCE, "rootBlockDevice": {}})],
     ["vm (aws:Instance): the root volume is not encrypted. Fix: set rootBlockDevice.encrypted to true"],
     [res(INSTANCE, "vm", GOOD_INSTANCE)]),
    ("ebs-volume-encrypted",
     [res(VOLUME, "data", {"encrypted": False})],
     ["data (aws:Volume): the volume is not encrypted. Fix: set encrypted to true"],
     [res(VOLUME, "data", {"encrypted": True})]),
    ("ec2-no-admin-or-database-port-to-world",
     [res(INGRESS, "in", {"fromPort": 2200, "toPort": 3310, "ipProtocol": "tcp", "cidrIpv4": "0.0.0.0/0"})],
     ["in (aws:SecurityGroupIngressRule): opens 2222 (Codelab SSH), 3306 (MySQL/MariaDB) to 0.0.0.0/0. "
      "Fix: allow only the administrator networks (adminCidrs)"],
     [res(INGRESS, "in", {"fromPort": 443, "toPort": 443, "ipProtocol": "tcp", "cidrIpv6": "::/0"})]),
    ("ec2-no-all-ports-rule",
     [res(SECURITY_GROUP, "sg", {"ingress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["10.0.0.0/8"]}]})],
     ["sg (aws:SecurityGroup): opens every port to 10.0.0.0/8. "
      "Fix: open only the ports the server serves (80, 443) and SSH to administrators"],
     [res(SECURITY_GROUP, "sg", {"ingress": [{"protocol": "tcp", "fromPort": 80, "toPort": 80, "cidrBlocks": ["0.0.0.0/0"]}]})]),
    ("ec2-admin-cidrs-narrow",
     [res(INGRESS, "ssh", {"fromPort": 22, "toPort": 22, "ipProtocol": "tcp", "cidrIpv4": "10.0.0.0/8"})],
     ["ssh (aws:SecurityGroupIngressRule): SSH is open to 10.0.0.0/8, wider than /16. "
      "Fix: list narrower administrator networks (at least /16)"],
     [res(INGRESS, "ssh", {"fromPort": 22, "toPort": 22, "ipProtocol": "tcp", "cidrIpv4": "203.0.113.0/24"})]),
    ("ec2-instance-profile-attached",
     [res(INSTANCE, "vm", {**GOOD_INSTANCE, "iamInstanceProfile": None})],
     ["vm (aws:Instance): no instance profile. Fix: attach the server's least-privilege instance profile (iamInstanceProfile)"],
     [res(INSTANCE, "vm", GOOD_INSTANCE)]),
    ("ec2-allowed-instance-types",
     [res(INSTANCE, "vm", {**GOOD_INSTANCE, "instanceType": "p5.48xlarge"})],
     ["vm (aws:Instance): instance type p5.48xlarge is not allowed. Fix: pick one of t3.*, t3a.*, m6i.*, m7i.*, "
      "m6a.*, m7a.*, m7g.*, c6i.*, c7i.*, c7g.*, r6i.*, r7i.*, r7g.* (policy config allowedInstanceTypes)"],
     [res(INSTANCE, "vm", GOOD_INSTANCE)]),
    ("aws-required-tags",
     [res(EIP, "ip", {"tags": {"constellab:stack": "s"}})],
     ["ip (aws:Eip): missing tags constellab:server, constellab:role. Fix: tag it like the rest of its server (naming.server_tags)"],
     [res(EIP, "ip", {"tags": TAGS})]),
    ("ebs-data-volume-protected",
     [res(VOLUME, "data", {"encrypted": True}, protect=True, retain=False)],
     ["data (aws:Volume): the data volume can be deleted with its stack. "
      "Fix: declare it with protect=True and retain_on_delete=True (retain_on_delete alone for a retired server)"],
     [res(VOLUME, "data", {"encrypted": True}, protect=True, retain=True)]),
    ("ec2-monitored-and-ebs-optimized",
     [res(INSTANCE, "vm", {**GOOD_INSTANCE, "monitoring": False})],
     ["vm (aws:Instance): monitoring off. Fix: set monitoring and ebsOptimized to true (idle stop reads one-minute metrics)"],
     [res(INSTANCE, "vm", GOOD_INSTANCE)]),
    ("ec2-behind-elastic-ip",
     [res(INSTANCE, "vm", GOOD_INSTANCE), res(EIP, "ip", {})],
     ["vm (aws:Instance): no Elastic IP: its address changes at every stop and start, and DNS breaks. "
      "Fix: associate an Elastic IP (CloudServer does)"],
     [vm := res(INSTANCE, "vm", GOOD_INSTANCE), res(EIP_ASSOCIATION, "assoc", {}, deps=[vm])]),
    ("iam-no-wildcard-write",
     [res(USER_POLICY, "keys", {"policy": json.dumps({"Statement": [
         {"Sid": "Backups", "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "*"}]})})],
     ["keys (aws:UserPolicy): statement Backups allows s3:PutObject on every resource. "
      "Fix: name the buckets, prefixes or instances it writes to"],
     [res(USER_POLICY, "keys", {"policy": json.dumps({"Statement": [
         {"Sid": "Backups", "Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::b/daily/*"},
         {"Sid": "Look", "Effect": "Allow", "Action": ["ec2:DescribeInstances"], "Resource": "*"}]})})]),
    ("iam-trust-one-service",
     [res(ROLE, "role", {"assumeRolePolicy": json.dumps({"Statement": [
         {"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]}, "Action": "sts:AssumeRole"}]})})],
     ["role (aws:Role): trusts ec2.amazonaws.com, lambda.amazonaws.com. Fix: trust exactly one AWS service per role"],
     [res(ROLE, "role", {"assumeRolePolicy": json.dumps({"Statement": [
         {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})})]),
    ("iam-scheduler-role-scope",
     [sched_role := res(ROLE, "sched", {"assumeRolePolicy": json.dumps({"Statement": [
         {"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}]})}),
      res(ROLE_POLICY, "sched-power", {"policy": json.dumps({"Statement": [
          {"Effect": "Allow", "Action": ["ec2:StartInstances", "ec2:TerminateInstances"], "Resource": "*"}]})},
          deps=[sched_role])],
     ["sched-power (aws:RolePolicy): the scheduler role may also ec2:TerminateInstances. "
      "Fix: allow only ec2:StartInstances and ec2:StopInstances",
      "sched-power (aws:RolePolicy): the scheduler role reaches *. Fix: name the one instance it starts and stops"],
     [sched_role, res(ROLE_POLICY, "sched-power", {"policy": json.dumps({"Statement": [
         {"Effect": "Allow", "Action": ["ec2:StartInstances", "ec2:StopInstances"],
          "Resource": "arn:aws:ec2:eu-west-3:1:instance/i-1"}]})}, deps=[sched_role])]),
    ("scheduling-always-on-servers-never-stopped",
     [hub := res(INSTANCE, "hub-vm", {**GOOD_INSTANCE, "tags": {**TAGS, "constellab:role": "hub"}}),
      res(ALARM, "hub-idle", {"alarmActions": ["arn:aws:automate:eu-west-3:ec2:stop"]}, deps=[hub])],
     ["hub-idle (aws:MetricAlarm): stops hub-vm, a hub that must stay on. "
      "Fix: remove the schedule, idle stop or stopped state from hubs and the space"],
     [hub, res(ALARM, "hub-recover", {"alarmActions": ["arn:aws:automate:eu-west-3:ec2:recover"]}, deps=[hub]),
      lab := res(INSTANCE, "lab-vm", GOOD_INSTANCE), res(POWER, "lab-parked", {"declared": "stopped"}, deps=[lab])]),
    ("scheduling-time-zone-set",
     [res(SCHEDULE, "start", {"scheduleExpression": "cron(0 8 ? * MON *)", "flexibleTimeWindow": {"mode": "OFF"}})],
     ["start (aws:Schedule): the cron expression is read in UTC. Fix: set scheduleExpressionTimezone to the lab's IANA time zone"],
     [res(SCHEDULE, "start", {"scheduleExpression": "cron(0 8 ? * MON *)", "scheduleExpressionTimezone": "Europe/Paris",
                              "flexibleTimeWindow": {"mode": "OFF"}})]),
    ("scheduling-flexible-window-off",
     [res(SCHEDULE, "start", {"flexibleTimeWindow": {"mode": "FLEXIBLE", "maximumWindowInMinutes": 15}})],
     ['start (aws:Schedule): a flexible window lets the start or stop drift. Fix: set flexibleTimeWindow.mode to "OFF"'],
     [res(SCHEDULE, "start", {"flexibleTimeWindow": {"mode": "OFF"}})]),
    ("dns-wildcard-dns-only",
     [res(RECORD, "wild", {"name": "*.lab1.acme.example", "type": "A", "proxied": True})],
     ["wild (cloudflare:DnsRecord): *.lab1.acme.example is proxied by Cloudflare, which breaks Traefik's certificates "
      "and Codelab SSH. Fix: set proxied to false"],
     [res(RECORD, "wild", {"name": "*.lab1.acme.example", "type": "A", "proxied": False})]),
    ("dns-host-and-wildcard",
     [res(RECORD, "wild", {"name": "*.lab1.acme.example"})],
     ["wild (cloudflare:DnsRecord): *.lab1.acme.example has no lab1.acme.example beside it. "
      "Fix: declare both records with the WildcardDns component"],
     [res(RECORD, "wild", {"name": "*.lab1.acme.example"}), res(RECORD, "host", {"name": "lab1.acme.example"})]),
    ("dns-every-server-has-dns",
     [res(CONTAINER, "lab1-manager", {**GOOD_CONTAINER, "name": "lab_manager", "envs": ["VIRTUAL_HOST=lab1.acme.example"]}),
      res(RECORD, "other", {"name": "x.acme.example"})],
     ["lab1-manager (docker:Container): server lab1.acme.example has no lab1.acme.example and no *.lab1.acme.example record. "
      "Fix: declare the server's <H> and *.<H> records (WildcardDns)"],
     [res(CONTAINER, "lab1-manager", {**GOOD_CONTAINER, "name": "lab_manager", "envs": ["VIRTUAL_HOST=lab1.acme.example"]}),
      res(RECORD, "host", {"name": "lab1.acme.example"}), res(RECORD, "wild", {"name": "*.lab1.acme.example"})]),
    ("docker-no-privileged",
     [res(CONTAINER, "c", {**GOOD_CONTAINER, "privileged": True})],
     ["c (docker:Container): runs privileged. Fix: drop privileged; grant the one capability it needs instead"],
     [res(CONTAINER, "c", {**GOOD_CONTAINER, "privileged": False})]),
    ("docker-socket-only-system-containers",
     [res(CONTAINER, "c", {**GOOD_CONTAINER, "name": "reverse_proxy",
                          "volumes": [{"hostPath": "/var/run/docker.sock", "containerPath": "/s"}]})],
     ["c (docker:Container): reverse_proxy mounts the Docker socket (root on the host). "
      "Fix: only lab_manager may mount /var/run/docker.sock; Traefik reads through the host's read-only proxy "
      "(/run/constellab)"],
     [res(CONTAINER, "c", {**GOOD_CONTAINER, "name": "lab_manager",
                          "volumes": [{"hostPath": "/var/run/docker.sock", "containerPath": "/var/run/docker.sock"}]})]),
    ("docker-images-pinned",
     [res(IMAGE, "img", {"name": "mariadb:latest"}), res(CONTAINER, "c", {**GOOD_CONTAINER, "image": "constellab/glab"})],
     ["img (docker:RemoteImage): image mariadb:latest uses the moving tag 'latest'. "
      "Fix: pin a version tag (e.g. 1.2.3) or a sha256 digest",
      "c (docker:Container): image constellab/glab has no tag. Fix: pin a version tag (e.g. 1.2.3) or a sha256 digest"],
     [res(IMAGE, "img", {"name": "mariadb:11.4.8"}), res(IMAGE, "img2", {"name": "traefik@sha256:" + "b" * 64}),
      res(CONTAINER, "c", GOOD_CONTAINER)]),
    ("docker-no-database-port-published",
     [res(CONTAINER, "db", {**GOOD_CONTAINER, "ports": [{"internal": 3306, "external": 13306}]})],
     ["db (docker:Container): publishes database port 3306 on the host as 13306. "
      "Fix: remove the port: databases are reached over their Docker network only"],
     [res(CONTAINER, "proxy", {**GOOD_CONTAINER, "ports": [{"internal": 443, "external": 443}]})]),
    ("docker-dev-and-prod-separated",
     [res(CONTAINER, "tool", {**GOOD_CONTAINER, "name": "adminer",
                             "networksAdvanced": [{"name": "gencovery-network-dev"}, {"name": "gencovery-network-prod"}]})],
     ["tool (docker:Container): adminer joins both the dev and the prod network. "
      "Fix: attach it to one of them: only the reverse proxy serves both environments"],
     [res(CONTAINER, "proxy", {**GOOD_CONTAINER, "name": "reverse_proxy",
                              "networksAdvanced": [{"name": n} for n in LAB_NETWORKS]}),
      res(CONTAINER, "tool", {**GOOD_CONTAINER, "name": "adminer", "networksAdvanced": [{"name": "gencovery-network-dev"}]})]),
    ("docker-no-lab-manager-names",
     [res(CONTAINER, "c", {**GOOD_CONTAINER, "name": "glab"})],
     ["c (docker:Container): is named glab, a container the lab manager creates itself (its compose would collide). "
      "Fix: leave the lab's containers to the lab manager; declare only lab_manager and reverse_proxy"],
     [res(CONTAINER, "c", {**GOOD_CONTAINER, "name": "lab_manager", "restart": "always"})]),
    ("docker-lab-host-networks",
     lab_host(LAB_NETWORKS[:2]) + lab_host(LAB_NETWORKS, server="lab2"),
     ["lab1-manager (docker:Container): its host has no network gencovery-network-prod, which the lab manager's compose "
      "files name as external. Fix: declare the three gencovery-network-* networks on the same Docker host"],
     lab_host(LAB_NETWORKS)),
    ("docker-no-plain-credentials",
     [res(CONTAINER, "c", {**GOOD_CONTAINER, "envs": ["GWS_CORE_DB_PASSWORD=gencovery", "AWS_KEY=AKIAABCDEFGHIJKLMNOP"]})],
     ["c (docker:Container): environment variable GWS_CORE_DB_PASSWORD holds a short or well-known password. "
      "Fix: generate it (RandomPassword), keep it a Pulumi secret, or pass a *_FILE secret file",
      "c (docker:Container): environment variable AWS_KEY holds a key. "
      "Fix: generate it (RandomPassword), keep it a Pulumi secret, or pass a *_FILE secret file"],
     [res(CONTAINER, "c", {**GOOD_CONTAINER, "envs": ["GWS_CORE_DB_PASSWORD=Zq8rT2mW9xLp4vNc7bKd3hYf",
                                                     "MARIADB_PASSWORD_FILE=/run/secrets/db_password"]})]),
    ("docker-restart-policy",
     [res(CONTAINER, "c", {**GOOD_CONTAINER, "restart": "no"}),
      res(CONTAINER, "m", {**GOOD_CONTAINER, "name": "lab_manager", "restart": "unless-stopped"})],
     ["c (docker:Container): restart policy is 'no'. Fix: set restart to \"unless-stopped\"",
      "m (docker:Container): restart policy is 'unless-stopped'. Fix: set restart to \"always\""],
     [res(CONTAINER, "c", GOOD_CONTAINER), res(CONTAINER, "m", {**GOOD_CONTAINER, "name": "lab_manager", "restart": "always"})]),
    ("traefik-api-not-insecure",
     [traefik("api:\n  insecure: true\n")],
     ["lab-traefik (docker:Container): the API and dashboard answer without authentication. Fix: set api.insecure to false"],
     [traefik(TRAEFIK_STATIC)]),
    ("traefik-hardening-reaches-every-router",
     [proxy(TRAEFIK_STATIC, TLS12), proxy(HARDENED_STATIC, TLS12.replace("TLS12", "TLS11"), name="lab2-proxy")],
     ["lab1-proxy (docker:Container): the websecure entry point applies no security headers. Fix: keep HSTS and the "
      "security headers on the entry point and TLS 1.2+ in the default TLS options: the lab manager's routers get no other",
      "lab2-proxy (docker:Container): the default TLS options allow VersionTLS11. Fix: keep HSTS and the "
      "security headers on the entry point and TLS 1.2+ in the default TLS options: the lab manager's routers get no other"],
     [proxy(HARDENED_STATIC, TLS12)]),
    ("traefik-docker-not-exposed-by-default",
     [traefik("providers:\n  docker: {}\n")],
     ["lab-traefik (docker:Container): every container is routed unless labelled otherwise. "
      "Fix: set providers.docker.exposedByDefault to false"],
     [traefik(TRAEFIK_STATIC)]),
    ("s3-access-logging-enabled",
     [lake := res(BUCKET, "lake-bucket", {"tags": TAGS}, protect=True, retain=True),
      logs := res(BUCKET, "logs-bucket", {"tags": LOG_TAGS}, protect=True, retain=True),
      access_logged(logs, logs, "s-access-logs-1", "s-access-logs-1")],
     ["logs-bucket-access-logging (aws:BucketLogging): the bucket logs to itself: each delivery of logs would be "
      "logged again, without end. Fix: target the stack's access-log bucket (SecureBucketArgs.access_logs)",
      "lake-bucket (aws:Bucket): its requests are not logged (no server access logging). "
      "Fix: log it to the stack's access-log bucket (SecureBucketArgs.access_logs, from AccessLogs)"],
     [lake, logs, access_logged(lake, logs, "s-lab1-data-1", "s-access-logs-1")]),
    ("ec2-security-group-rules-described",
     [res(EGRESS, "out", {"ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0", "description": " "}),
      res(SECURITY_GROUP, "sg", {"ingress": [{"fromPort": 443, "toPort": 443, "description": "Let's encrypt"}],
                                 "egress": [{"fromPort": 0, "toPort": 0}]})],
     ["out (aws:SecurityGroupEgressRule): the rule has no description. Fix: " + DESCRIBED_CHARACTERS,
      "sg (aws:SecurityGroup): ingress rule 0 has a description EC2 refuses: \"Let's encrypt\". Fix: "
      + DESCRIBED_CHARACTERS,
      "sg (aws:SecurityGroup): egress rule 0 has no description. Fix: " + DESCRIBED_CHARACTERS],
     [res(EGRESS, "out", {"ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0",
                          "description": "Outbound to anywhere: packages, images, certificates (ACME, DNS API)"}),
      res(INGRESS, "in", {"fromPort": 443, "toPort": 443, "cidrIpv6": "::/0", "description": "HTTPS from anywhere"}),
      res(SECURITY_GROUP, "sg", {"description": "no inline rules"})]),
    ("stack-every-server-backs-up",
     [res(CONTAINER, "lab1-manager", {**GOOD_CONTAINER, "name": "lab_manager", "envs": ["VIRTUAL_HOST=lab1.acme.example"]},
          provider=res(DOCKER_PROVIDER, "lab1-docker", {"host": "ssh://admin@203.0.113.1:22"})),
      res(BUCKET, "lab2-backups", {"bucketPrefix": "acme-lab2-backup-daily-", "tags": {**TAGS, "constellab:server": "lab2"}})],
     ["lab1-manager (docker:Container): server lab1 has no backup bucket for its lab manager. "
      "Fix: give the lab or hub its backups (the LabBackups component)"],
     [local := res(DOCKER_PROVIDER, "local-docker", {"host": "unix:///var/run/docker.sock"}),
      res(CONTAINER, "local-manager", {**GOOD_CONTAINER, "name": "lab_manager", "envs": ["VIRTUAL_HOST=lab.localhost"]},
          provider=local),
      res(CONTAINER, "lab1-manager", {**GOOD_CONTAINER, "name": "lab_manager", "envs": ["VIRTUAL_HOST=lab1.acme.example"]}),
      res(BUCKET, "lab1-backups", {"bucketPrefix": "acme-lab1-backup-daily-", "tags": TAGS})]),
    ("stack-stateful-resources-protected",
     [res(BUCKET, "data-bucket", {"tags": TAGS})],
     ["data-bucket (aws:Bucket): holds data but is not protected. Fix: declare it with protect=True and "
      "retain_on_delete=True (retain_on_delete alone for a retired server's kept data)"],
     [res(BUCKET, "data-bucket", {"tags": TAGS}, protect=True, retain=True)]),
]  # fmt: skip


def test_a_retired_servers_kept_data_may_be_unprotected_but_never_deleted():
    retired = {"encrypted": True, "tags": {"constellab:retired": "true"}}
    assert messages("ebs-data-volume-protected", res(VOLUME, "data", retired, protect=False, retain=True)) == []
    assert messages("ebs-data-volume-protected", res(VOLUME, "data", retired, protect=False, retain=False)) != []
    assert messages("ebs-data-volume-protected", res(VOLUME, "data", {"encrypted": True}, retain=True)) != []
    kept = res(BUCKET, "data-bucket", {"tags": {**TAGS, "constellab:retired": "true"}}, protect=False, retain=True)
    assert messages("stack-stateful-resources-protected", kept) == []


def test_every_rule_has_a_case_and_the_pack_has_at_least_30():
    assert len(ALL_RULES) >= 30
    assert sorted(case[0] for case in CASES) == sorted(RULES)


@pytest.mark.parametrize(("rule", "bad", "expected", "good"), CASES, ids=[case[0] for case in CASES])
def test_a_violation_names_the_resource_and_the_fix(rule, bad, expected, good):
    assert messages(rule, *bad) == expected


@pytest.mark.parametrize(("rule", "bad", "expected", "good"), CASES, ids=[case[0] for case in CASES])
def test_a_compliant_resource_passes(rule, bad, expected, good):
    assert messages(rule, *good) == []


def test_rules_have_names_descriptions_and_levels_and_each_check_is_the_one_of_its_scope():
    from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

    names = [rule.name for rule in ALL_RULES]
    assert len(names) == len(set(names)), "a rule's name is its config key and its id in reports: unique"
    for rule in ALL_RULES:
        assert rule.name and rule.description and rule.level in ("mandatory", "advisory")
        policy = rule.policy()
        kind = StackValidationPolicy if rule.scope == "stack" else ResourceValidationPolicy
        assert isinstance(policy, kind), f"{rule.name}: a {rule.scope} rule must build a {kind.__name__}"
        assert policy.enforcement_level is not None and policy.enforcement_level.value == rule.level, rule.name


def test_pack_configuration_overrides_a_rules_defaults():
    vm = res(INSTANCE, "vm", {**GOOD_INSTANCE, "instanceType": "p5.48xlarge"})
    assert messages("ec2-allowed-instance-types", vm, config={"allowedInstanceTypes": ["p5.*"]}) == []
    found = evaluate(
        [vm], [RULES["ec2-allowed-instance-types"]], {"ec2-allowed-instance-types": {"enforcementLevel": "advisory"}}
    )
    assert [v.level for v in found] == ["advisory"]


def test_the_pack_module_builds_one_pack_with_every_rule(monkeypatch):
    """`policies/__main__.py` only builds the pack; the constructor (which would serve) is replaced here."""
    import pulumi_policy

    built: list[dict[str, Any]] = []
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: built.append(kwargs))
    monkeypatch.syspath_prepend(str(ROOT / "policies"))
    runpy.run_path(str(ROOT / "policies" / "__main__.py"), run_name="__main__")
    assert len(built) == 1
    assert [p.name for p in built[0]["policies"]] == [rule.name for rule in ALL_RULES]
    assert (ROOT / "policies" / "PulumiPolicy.yaml").is_file()
    assert "pulumi-policy" in (ROOT / "policies" / "requirements.txt").read_text()


@pytest.mark.parametrize("stack", STACK_NAMES)
@pulumi.runtime.test
def test_every_shipped_stack_passes_every_mandatory_guardrail(engine_for, stack):
    engine = engine_for(stack)

    def check(registrations):
        mandatory = [v.message for v in evaluate(registrations) if v.level == "mandatory"]
        assert mandatory == []

    return declared(engine).apply(check)


@pulumi.runtime.test
def test_a_broken_program_is_caught_by_the_guardrails(engine_for, monkeypatch):
    """The shipped stacks pass because they comply, not because the evaluator sees nothing."""
    from constellab.aws import iam

    monkeypatch.setattr(iam, "ADMIN_PORTS", (22, 2222, 3306))
    monkeypatch.setattr(iam, "ingress_rules", lambda _cidrs: [iam.IngressRule(3306, "0.0.0.0/0", "oops")])
    engine = engine_for("acme-cloud")
    registrations = declared(engine)

    def check(found):
        rules = {v.rule for v in evaluate(found)}
        assert "ec2-no-admin-or-database-port-to-world" in rules

    return pulumi.Output.all(registrations, quiescent()).apply(lambda values: check(values[0]))


def test_access_logging_reads_which_bucket_is_the_source_from_the_inputs_dependencies():
    """CrossGuard (and the offline evaluator) say which resource each input comes from: a bucket that only
    receives another's logs is not logged itself, and a logging resource whose two inputs come from the same
    bucket logs it to itself, whatever the names."""
    lake = res(BUCKET, "lake-bucket", {"tags": TAGS}, protect=True, retain=True)
    backups = res(BUCKET, "backups-bucket", {"tags": TAGS}, protect=True, retain=True)
    into_backups = res(BUCKET_LOGGING, "lake-access-logging", {"bucket": "lake", "targetBucket": "backups"},
                       deps=[lake, backups], input_deps={"bucket": [lake], "targetBucket": [backups]})  # fmt: skip
    assert messages("s3-access-logging-enabled", lake, backups, into_backups) == [
        "lake-access-logging (aws:BucketLogging): the logs go to a bucket that is not the stack's access-log bucket "
        "(one outside the stack, or a data bucket). Fix: target the stack's access-log bucket "
        "(SecureBucketArgs.access_logs, from AccessLogs)",
        "backups-bucket (aws:Bucket): its requests are not logged (no server access logging). "
        "Fix: log it to the stack's access-log bucket (SecureBucketArgs.access_logs, from AccessLogs)",
    ]
    into_itself = res(BUCKET_LOGGING, "lake-access-logging", {"targetPrefix": "lake/"},
                      deps=[lake], input_deps={"bucket": [lake], "targetBucket": [lake]})  # fmt: skip
    assert messages("s3-access-logging-enabled", lake, into_itself) == [
        "lake-access-logging (aws:BucketLogging): the bucket logs to itself: each delivery of logs would be logged "
        "again, without end. Fix: target the stack's access-log bucket (SecureBucketArgs.access_logs)"
    ]


def test_logs_sent_outside_the_stack_or_to_a_second_log_bucket_are_caught():
    lake = res(BUCKET, "lake-bucket", {"tags": TAGS}, protect=True, retain=True)
    logs = res(BUCKET, "logs-bucket", {"tags": LOG_TAGS}, protect=True, retain=True)
    elsewhere = res(BUCKET_LOGGING, "lake-access-logging", {"bucket": "lake", "targetBucket": "someone-elses"},
                    deps=[lake], input_deps={"bucket": [lake], "targetBucket": []})  # fmt: skip
    assert messages("s3-access-logging-enabled", lake, logs, elsewhere) == [
        "lake-access-logging (aws:BucketLogging): the logs go to a bucket that is not the stack's access-log bucket "
        "(one outside the stack, or a data bucket). Fix: target the stack's access-log bucket "
        "(SecureBucketArgs.access_logs, from AccessLogs)"
    ]
    second = res(BUCKET, "more-logs-bucket", {"tags": LOG_TAGS}, protect=True, retain=True)
    into_logs = access_logged(lake, logs, "s-lake-1", "s-access-logs-1")
    assert messages("s3-access-logging-enabled", lake, logs, second, into_logs) == [
        "more-logs-bucket (aws:Bucket): a second access-log bucket (the first is logs-bucket): it would go unlogged "
        "as one. Fix: keep one access-log bucket per stack (AccessLogs), tag no other bucket "
        "constellab:role=access-logs"
    ]


def test_only_the_access_log_bucket_is_exempt_from_access_logging():
    unlogged = res(BUCKET, "b", {"tags": {**LOG_TAGS, "constellab:role": "lab"}}, protect=True, retain=True)
    assert len(messages("s3-access-logging-enabled", unlogged)) == 1
    assert messages("s3-access-logging-enabled", res(BUCKET, "b", {"tags": LOG_TAGS})) == []


@pulumi.runtime.test
def test_a_program_whose_buckets_do_not_log_or_whose_rules_say_nothing_is_caught(engine_for, monkeypatch):
    """Without the access-log bucket every bucket goes unlogged; without its description the egress rule is
    unexplained: the guardrails see both in what the program declares."""
    from components import platform
    from constellab.aws import iam

    monkeypatch.setattr(platform, "declares_buckets", lambda _config: False)
    monkeypatch.setattr(iam, "OUTBOUND_DESCRIPTION", "")
    engine = engine_for("biolab-hybrid")
    registrations = declared(engine)

    def check(found):
        violations = evaluate(found)
        unlogged = sorted(v.name for v in violations if v.rule == "s3-access-logging-enabled")
        assert unlogged == sorted(r.name for r in found if r.type == BUCKET) and len(unlogged) == 5
        undescribed = [v.name for v in violations if v.rule == "ec2-security-group-rules-described"]
        assert undescribed == ["biolab-analysis-host-server-out-all"]

    return pulumi.Output.all(registrations, quiescent()).apply(lambda values: check(values[0]))


def test_the_packs_copy_of_the_lab_host_contract_matches_the_programs():
    """The pack runs without the program (its own virtualenv): its names are copies, kept equal here."""
    from constellab import lab_host
    from policies.rules import docker

    assert docker.LAB_MANAGER_NAMES == lab_host.LAB_MANAGER_NAMES
    assert docker.LAB_HOST_NETWORKS == lab_host.NETWORKS
    assert set(docker.SYSTEM_CONTAINERS) == set(lab_host.SYSTEM_CONTAINERS)
    assert docker.SOCKET_USERS == (lab_host.LAB_MANAGER,)
    assert docker.LAB_MANAGER == lab_host.LAB_MANAGER


def test_the_packs_copy_of_the_access_log_role_matches_the_programs():
    from constellab import naming
    from policies.rules import s3

    assert s3.ACCESS_LOG_ROLE == naming.ACCESS_LOGS == naming.shared_tags("s", naming.ACCESS_LOGS)["constellab:role"]
