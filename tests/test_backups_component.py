"""`LabBackups` (`components/backups.py`) under the mock engine: each hub's and lab's backup buckets, their
retention, and what the Space needs to use them."""

from __future__ import annotations

import asyncio

import pulumi

import program
from offline.engine import quiescent
from tests.conftest import declared, of_type


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
