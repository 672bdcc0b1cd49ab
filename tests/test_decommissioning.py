"""Decommissioning a hub or a lab without losing its data: retire it, `up`, then remove it.

Under mocks: a retired lab declares only its data, released from protection and kept on delete, under the
same identities. Then the check that refuses a server taken out of a stack file without being retired.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pulumi
import pytest
import yaml

import program
from constellab.settings import load_stack_file
from offline.engine import configure, quiescent
from ops import common, decommission
from ops.commands import check
from tests.conftest import STACKS, stack_file

KEPT_TYPES = {
    "constellab:lab:DataLab",
    "constellab:backups:LabBackups",
    "constellab:bucket:SecureBucket",
    "constellab:host:ServerHost",
    "constellab:cloud_server:CloudServer",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketLogging:BucketLogging",
    "aws:ebs/volume:Volume",
}
DATA_TYPES = {"aws:s3/bucket:Bucket", "aws:ebs/volume:Volume"}


def with_lab1(retired: bool):
    settings = load_stack_file(stack_file("acme-cloud"))
    labs = list(settings.platform.labs)
    labs[0] = labs[0].model_copy(update={"retired": retired})
    return dataclasses.replace(settings, platform=settings.platform.model_copy(update={"labs": tuple(labs)}))


def of_lab1(registrations):
    return [r for r in registrations if r.name.startswith("acme-lab1")]


@pytest.mark.parametrize("retired", [False, True])
@pulumi.runtime.test
def test_a_retired_labs_data_keeps_its_identity(retired):
    engine = configure(stack_file("acme-cloud"), with_lab1(retired))

    def check(registrations):
        data = sorted(r.urn for r in of_lab1(registrations) if r.type in DATA_TYPES)
        # The same URNs either way (names and parents unchanged): the volume and buckets the running lab had.
        parents = {r.urn: r.parent for r in registrations}
        for urn in data:
            assert parents[urn].rsplit("::", 1)[1] in ("acme-lab1-host-server", "acme-lab1-backups-daily",
                                                       "acme-lab1-backups-weekly")  # fmt: skip
        assert data == sorted(
            [
                "urn:pulumi:acme-cloud::constellab::constellab:cloud_server:CloudServer$aws:ebs/volume:Volume::"
                "acme-lab1-host-server-data",
                *(
                    "urn:pulumi:acme-cloud::constellab::constellab:bucket:SecureBucket$aws:s3/bucket:Bucket::"
                    f"acme-lab1-backups-{frequency}-bucket"
                    for frequency in ("daily", "weekly")
                ),
            ]
        )

    program.build(engine.stack, engine.settings)
    return quiescent().apply(lambda _: check(list(engine.registrations)))


@pulumi.runtime.test
def test_a_retired_lab_keeps_only_its_data_released_from_protection_and_kept_in_aws():
    engine = configure(stack_file("acme-cloud"), with_lab1(True))
    servers = program.build(engine.stack, engine.settings).servers

    def check(found):
        registrations, exported = found
        kept = of_lab1(registrations)
        assert {r.type for r in kept} == KEPT_TYPES, "no instance, container, gate, DNS record or key any more"
        for resource in kept:
            if resource.custom:
                assert resource.retain_on_delete, f"{resource.name}: kept in AWS when it leaves the stack"
        for resource in (r for r in kept if r.type in DATA_TYPES):
            assert not resource.protect, f"{resource.name}: released, so the lab can leave the stack file"
            assert resource.inputs["tags"]["constellab:retired"] == "true"
        others = [r for r in registrations if r.type in DATA_TYPES and not r.name.startswith("acme-lab1")]
        assert others and all(r.protect for r in others), "nothing else is released"
        lab1 = exported["lab1"]
        assert lab1["retired"] is True and lab1["dataVolumeId"].startswith("vol-")
        assert set(lab1["backupBuckets"]) == {"DAILY", "WEEKLY"}

    return pulumi.Output.all(quiescent().apply(lambda _: list(engine.registrations)), servers).apply(check)


def test_a_retired_lab_needs_no_lab_manager_key_and_a_retired_hub_takes_no_results():
    from constellab.settings import LAB_MANAGER_API_KEYS, required_members

    document = yaml.safe_load(stack_file("acme-cloud").read_text())["config"]["constellab:platform"]
    document["labs"][0]["retired"] = True
    assert "lab1" not in required_members(document)[LAB_MANAGER_API_KEYS]

    from tests.test_config_validation import problems

    document["hubs"][0]["retired"] = True
    assert problems(document) == [
        "labs[1].hub: hub 'hub' is retired: its data lake is released, nothing may write to it; point this at "
        "another hub, or retire this server too"
    ]


def test_a_lab_taken_out_without_retirement_is_named_with_the_way_to_keep_its_data():
    before = yaml.safe_load(stack_file("acme-cloud").read_text())
    after = yaml.safe_load(stack_file("acme-cloud").read_text())
    after["config"]["constellab:platform"]["labs"] = after["config"]["constellab:platform"]["labs"][:1]

    (removal,) = decommission.removals("acme-cloud", before, after)

    assert (removal.kind, removal.name, removal.retired_first) == ("lab", "lab2", False)
    assert "its data volume, its backup buckets" in removal.message()
    assert "put it back with `retired: true`, run `pulumi up` with the server running" in removal.message()
    assert "`./run ops lab start lab2 --stack acme-cloud --wait` if it is asleep" in removal.message()
    before["config"]["constellab:platform"]["labs"][1]["retired"] = True
    (after_retirement,) = decommission.removals("acme-cloud", before, after)
    assert after_retirement.retired_first and "stays in AWS" in after_retirement.message()


def test_ops_check_against_a_ref_refuses_the_removal_before_anything_runs(tmp_path: Path, monkeypatch, capsys):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repository = tmp_path / "repo"
    shutil.copytree(STACKS, repository / "stacks")
    for command in (["init", "-q"], ["add", "."], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x"]):
        subprocess.run(["git", *command], cwd=repository, check=True)
    path = repository / "stacks" / "Pulumi.acme-cloud.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"]["constellab:platform"]["labs"].pop()
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    monkeypatch.setattr(common, "ROOT", repository)

    assert check.check_removals([path], "HEAD") is True
    assert "error: acme-cloud: lab lab2 is no longer in the stack file, but it was not retired first" in (
        capsys.readouterr().err
    )
    assert check.check_removals([repository / "stacks" / "Pulumi.local.yaml"], "HEAD") is False


def test_a_stack_with_a_retired_lab_passes_every_mandatory_guardrail(stacks_copy: Path):
    from offline import guardrails
    from offline.engine import run_program

    path = stacks_copy / "Pulumi.acme-cloud.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"]["constellab:platform"]["labs"][0]["retired"] = True
    path.write_text(yaml.safe_dump(document, sort_keys=False))

    violations = guardrails.check_run(run_program(path), guardrails.load_config(None))

    assert [v for v in violations if v.level == "mandatory"] == []
