"""`ServerIdentity` (`components/identity.py`) under the mock engine: each server's least-privilege AWS
identity."""

from __future__ import annotations

import json

import pulumi

from tests.conftest import declared, of_type


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
