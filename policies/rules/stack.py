"""Stack level: every lab and hub backs up to a bucket; every stateful resource is protected."""

from __future__ import annotations

from pulumi_policy import ReportViolation, StackValidationArgs

from .common import Rule, as_list, of_type, report

CONTAINER = "docker:index/container:Container"
STATEFUL = ("aws:s3/bucket:Bucket", "aws:ebs/volume:Volume")


def _local(container) -> bool:  # type: ignore[no-untyped-def]
    provider = getattr(container, "provider", None)
    host = str(getattr(provider, "props", {}).get("host", "")) if provider is not None else ""
    return host.startswith("unix://")


def every_server_backs_up(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for manager in of_type(args.resources, CONTAINER):
        if manager.props.get("name") != "lab-manager" or _local(manager):
            continue
        env = dict(str(e).partition("=")[::2] for e in as_list(manager.props.get("envs")))
        if not env.get("BACKUP_S3_BUCKET"):
            report(
                report_violation,
                manager.name,
                manager.resource_type,
                "this server's lab manager has no backup bucket",
                "give the lab or hub its backup bucket (BACKUP_S3_BUCKET)",
                manager.urn,
            )


def stateful_protected(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for resource in of_type(args.resources, *STATEFUL):
        retained = getattr(resource.opts, "retain_on_delete", True)
        if not resource.opts.protect or retained is False:
            report(
                report_violation,
                resource.name,
                resource.resource_type,
                "holds data but is not protected",
                "declare it with protect=True and retain_on_delete=True",
                resource.urn,
            )


RULES = [
    Rule(
        "stack-every-server-backs-up",
        "Every lab and hub has a backup bucket",
        "mandatory",
        every_server_backs_up,
        scope="stack",
    ),
    Rule(
        "stack-stateful-resources-protected",
        "Every bucket and data volume is protected",
        "mandatory",
        stateful_protected,
        scope="stack",
    ),
]
