"""Desired-state difference between two previews of the same stacks (before: a git ref; after: here).

Resources are matched by URN. A change to an input that the provider cannot update in place is a
replacement; removing or replacing anything that holds data is dangerous and listed first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ops.git import GitRefError, resolve_commit, run_git

# Inputs whose change makes the provider replace the resource (pulumi-aws 7, pulumi-docker 5, ...).
REPLACED_BY: dict[str, set[str]] = {
    "aws:ec2/instance:Instance": {"ami", "subnetId", "availabilityZone", "keyName", "privateIp", "tenancy"},
    "aws:ebs/volume:Volume": {"availabilityZone", "encrypted", "kmsKeyId", "snapshotId"},
    "aws:s3/bucket:Bucket": {"bucket", "bucketPrefix"},
    "aws:ec2/subnet:Subnet": {"vpcId", "cidrBlock", "availabilityZone"},
    "aws:ec2/vpc:Vpc": {"cidrBlock"},
    "aws:ec2/securityGroup:SecurityGroup": {"vpcId", "name", "description"},
    "aws:ec2/eip:Eip": {"domain"},
    "aws:ec2/volumeAttachment:VolumeAttachment": {"volumeId", "instanceId", "deviceName"},
    "aws:iam/user:User": set(),
    "aws:iam/accessKey:AccessKey": {"user"},
    "cloudflare:index/dnsRecord:DnsRecord": {"zoneId"},
    "docker:index/network:Network": {"name", "driver", "ipamConfigs", "internal"},
    "random:index/randomPassword:RandomPassword": {"length", "special", "overrideSpecial", "upper", "lower", "numeric"},
}
# A container is immutable: any change recreates it (its data lives in bind mounts).
REPLACED_ON_ANY_CHANGE = {"docker:index/container:Container", "docker:index/remoteImage:RemoteImage"}
STATEFUL = {"aws:s3/bucket:Bucket": "bucket", "aws:ebs/volume:Volume": "data volume"}
CONTAINER = "docker:index/container:Container"
DATABASE_DATA = "/var/lib/mysql"


class AgainstError(Exception):
    """The git ref cannot be previewed (unknown ref, or its preview failed): one line, exit 2."""


def _database_data(resource: dict[str, Any]) -> str | None:
    for volume in resource.get("inputs", {}).get("volumes") or []:
        if isinstance(volume, dict) and volume.get("containerPath") == DATABASE_DATA:
            return str(volume.get("hostPath"))
    return None


def _is_database(resource: dict[str, Any]) -> bool:
    return resource["type"] == CONTAINER and _database_data(resource) is not None


def diff_stack(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    """Added, removed and changed resources of one stack; dangerous changes flagged."""
    old = {r["urn"]: r for r in (before or {}).get("resources", []) if r["custom"]}
    new = {r["urn"]: r for r in (after or {}).get("resources", []) if r["custom"]}
    stack = (after or before or {}).get("stack", "")
    added = [_brief(new[urn]) for urn in sorted(set(new) - set(old))]
    removed = [_brief(old[urn]) for urn in sorted(set(old) - set(new))]
    changed = []
    dangerous = []
    for urn in sorted(set(old) & set(new)):
        was, now = old[urn], new[urn]
        keys = sorted(set(was["inputs"]) | set(now["inputs"]))
        changes = [
            {"input": key, "before": was["inputs"].get(key), "after": now["inputs"].get(key)}
            for key in keys
            if _differs(was, now, key)
        ]
        option_changes = {
            key: {"before": was["options"].get(key), "after": now["options"].get(key)}
            for key in ("protect", "retainOnDelete", "deleteBeforeReplace", "ignoreChanges")
            if was["options"].get(key) != now["options"].get(key)
        }
        if not changes and not option_changes:
            continue
        ignored = set(now["options"].get("ignoreChanges") or [])
        forcing = sorted(
            change["input"]
            for change in changes
            if change["input"] not in ignored
            and (now["type"] in REPLACED_ON_ANY_CHANGE or change["input"] in REPLACED_BY.get(now["type"], set()))
        )
        entry = {
            **_brief(now),
            "changes": changes,
            "options": option_changes,
            "replace": bool(forcing),
            "replaceBecause": forcing,
        }
        changed.append(entry)
        if forcing and now["type"] in STATEFUL:
            dangerous.append(
                {
                    **_brief(now),
                    "action": "replace",
                    "reason": f"replacing this {STATEFUL[now['type']]} ({', '.join(forcing)}) loses its data",
                }
            )
        if _is_database(was) and _database_data(was) != _database_data(now):
            dangerous.append(
                {
                    **_brief(now),
                    "action": "move",
                    "reason": f"the database data moves from {_database_data(was)} to {_database_data(now)}",
                }
            )
        if was["options"].get("protect") and not now["options"].get("protect") and now["type"] in STATEFUL:
            dangerous.append({**_brief(now), "action": "unprotect", "reason": "protection is removed"})
    for resource in removed:
        full = old[resource["urn"]]
        if full["type"] in STATEFUL:
            dangerous.append({**resource, "action": "remove", "reason": f"this {STATEFUL[full['type']]} is removed"})
        elif _is_database(full):
            dangerous.append(
                {
                    **resource,
                    "action": "remove",
                    "reason": f"the database with data in {_database_data(full)} is removed",
                }
            )
    return {
        "stack": stack,
        "new": before is None,
        "deleted": after is None,
        "added": added,
        "removed": removed,
        "changed": changed,
        "dangerous": dangerous,
    }


def _differs(was: dict[str, Any], now: dict[str, Any], key: str) -> bool:
    """Compares real values through their fingerprints (masked secrets all look alike)."""
    before, after = was.get("fingerprints") or {}, now.get("fingerprints") or {}
    if key in before or key in after:
        return before.get(key) != after.get(key)
    return bool(was["inputs"].get(key) != now["inputs"].get(key))


def _brief(resource: dict[str, Any]) -> dict[str, Any]:
    return {"urn": resource["urn"], "type": resource["type"], "name": resource["name"]}


def diff(before: dict[str, dict[str, Any] | None], after: dict[str, dict[str, Any]], ref: str) -> dict[str, Any]:
    stacks = sorted(set(before) | set(after))
    return {"against": ref, "stacks": [diff_stack(before.get(s), after.get(s)) for s in stacks]}


def documents_at(root: Path, ref: str, stacks: list[str]) -> dict[str, dict[str, Any] | None]:
    """The preview documents of `stacks` as they are at `ref`, from a temporary worktree."""
    try:
        commit = resolve_commit(root, ref)
    except GitRefError as error:
        raise AgainstError(str(error)) from None
    folder = Path(tempfile.mkdtemp(prefix="constellab-against-"))
    worktree = folder / "tree"
    added = run_git(root, "worktree", "add", "--detach", "--quiet", str(worktree), commit)
    if added.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise AgainstError(f"cannot check out {ref!r}: {added.stderr.strip().splitlines()[-1] if added.stderr else ''}")
    try:
        present = [s for s in stacks if (worktree / "stacks" / f"Pulumi.{s}.yaml").is_file()]
        found: dict[str, dict[str, Any] | None] = dict.fromkeys(stacks)
        if not present:
            return found
        args = [sys.executable, "-m", "ops", "preview", "--format", "json"]
        for stack in present:
            args += ["--stack", stack]
        env = {**os.environ, "PYTHONPATH": str(worktree)}
        result = subprocess.run(args, cwd=worktree, capture_output=True, text=True, env=env, timeout=900)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no message"])[-1]
            raise AgainstError(f"the stacks at {ref!r} do not preview: {last}")
        import json

        report = json.loads(result.stdout)
        if report.get("schemaVersion") != 1:
            raise AgainstError(f"the preview at {ref!r} predates the JSON schema v1: compare with a later ref")
        for document in report["stacks"]:
            found[document["stack"]] = document
        return found
    finally:
        run_git(root, "worktree", "remove", "--force", str(worktree))
        shutil.rmtree(folder, ignore_errors=True)
