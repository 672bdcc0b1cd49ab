"""Stack level: every lab and hub backs up to a bucket; every stateful resource is protected."""

from __future__ import annotations

from pulumi_policy import ReportViolation, StackValidationArgs

from .common import Rule, as_list, kept_on_delete, of_type, report

CONTAINER = "docker:index/container:Container"
STATEFUL = ("aws:s3/bucket:Bucket", "aws:ebs/volume:Volume")


def _local(container) -> bool:  # type: ignore[no-untyped-def]
    provider = getattr(container, "provider", None)
    host = str(getattr(provider, "props", {}).get("host", "")) if provider is not None else ""
    return host.startswith("unix://")


def _backup_buckets(args: StackValidationArgs) -> set[str]:
    """Servers (by name) with a backup bucket: tagged with the server, named `<customer>-<server>-backup-<kind>-`."""
    found = set()
    for bucket in of_type(args.resources, "aws:s3/bucket:Bucket"):
        tags = bucket.props.get("tags") or {}
        if "-backup-" in str(bucket.props.get("bucketPrefix", "")) and tags.get("constellab:server"):
            found.add(str(tags["constellab:server"]))
    return found


def every_server_backs_up(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    backed_up = _backup_buckets(args)
    for manager in of_type(args.resources, CONTAINER):
        if manager.props.get("name") != "lab_manager" or _local(manager):
            continue
        env = dict(str(e).partition("=")[::2] for e in as_list(manager.props.get("envs")))
        server = env.get("VIRTUAL_HOST", "").split(".", 1)[0]
        if server not in backed_up:
            report(
                report_violation,
                manager.name,
                manager.resource_type,
                f"server {server or '?'} has no backup bucket for its lab manager",
                "give the lab or hub its backups (the LabBackups component)",
                manager.urn,
            )


def stateful_protected(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for resource in of_type(args.resources, *STATEFUL):
        if not kept_on_delete(resource):
            report(
                report_violation,
                resource.name,
                resource.resource_type,
                "holds data but is not protected",
                "declare it with protect=True and retain_on_delete=True (retain_on_delete alone for a retired "
                "server's kept data)",
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
