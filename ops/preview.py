"""`ops preview`: the resource tree, counts per type and stack outputs of stacks, offline."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

import yaml

from ops.offline import OfflineRun, Registration, mask


def short_type(token: str) -> str:
    """`aws:s3/bucket:Bucket` -> `aws:Bucket`; component tokens keep their type name."""
    package, _, rest = token.partition(":")
    return f"{package}:{rest.rsplit(':', 1)[-1]}" if rest else token


# Components in the order a reader expects them: the network, then hubs, labs and the space.
_COMPONENT_ORDER = {
    "constellab:network:Network": 0,
    "constellab:hub:DataHub": 1,
    "constellab:lab:DataLab": 2,
    "constellab:space:CollaborativeSpace": 3,
}


def render_tree(registrations: list[Registration]) -> list[str]:
    """Components as a tree; the plain resources of each component as counts per type."""
    children: dict[str, list[Registration]] = defaultdict(list)
    for registration in registrations:
        children[registration.parent].append(registration)
    urns = {registration.urn for registration in registrations}
    roots = [r for r in registrations if r.parent not in urns]
    lines: list[str] = []

    def walk(node: Registration, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        kids = children.get(node.urn, [])
        counts = Counter(short_type(kid.type) for kid in kids if kid.custom)
        summary = ", ".join(f"{kind} ×{n}" if n > 1 else kind for kind, n in sorted(counts.items()))
        label = (
            f"{node.type.rsplit(':', 1)[-1]} {node.name}" if not node.custom else f"{short_type(node.type)} {node.name}"
        )
        lines.append(f"{prefix}{branch}{label}" + (f"  [{summary}]" if summary else ""))
        components = sorted(
            (kid for kid in kids if not kid.custom), key=lambda kid: (_COMPONENT_ORDER.get(kid.type, 9), kid.name)
        )
        inner = prefix + ("" if top else ("   " if last else "│  "))
        for index, kid in enumerate(components):
            walk(kid, inner, index == len(components) - 1, False)

    for index, root in enumerate(roots):
        if root.custom:
            continue
        walk(root, "", index == len(roots) - 1, True)
    stray = [r for r in roots if r.custom]
    if stray:
        counts = Counter(short_type(r.type) for r in stray)
        lines.append("(no parent) " + ", ".join(f"{kind} ×{n}" for kind, n in sorted(counts.items())))
    return lines


def summary(run: OfflineRun) -> dict[str, Any]:
    """The preview of one stack as data (used by the text and JSON formats)."""
    from ops.guardrails import check_run

    custom = [r for r in run.registrations if r.custom and not r.type.startswith("pulumi:providers:")]
    return {
        "stack": run.stack,
        "resources": len(custom),
        "byType": dict(sorted(Counter(r.type for r in custom).items())),
        "outputs": mask(run.outputs),
        "policies": [violation.as_dict() for violation in check_run(run)],
    }


def render_text(run: OfflineRun) -> str:
    data = summary(run)
    lines = [
        f"Stack {run.stack}: {data['resources']} resources "
        "(offline preview under Pulumi's mock engine; nothing was created)",
        "",
    ]
    lines += render_tree(run.registrations)
    lines += ["", "Resources by type:"]
    lines += [
        f"  {count:4d}  {kind}" for kind, count in sorted(data["byType"].items(), key=lambda item: (-item[1], item[0]))
    ]
    from ops.guardrails import Violation, render

    lines += ["", "Guardrails:"]
    violations = [Violation(**item) for item in data["policies"]]
    lines += ["  " + line for line in render(run.stack, violations).splitlines()]
    lines += ["", "Outputs (secrets masked):"]
    rendered = yaml.safe_dump(data["outputs"], sort_keys=True, default_flow_style=False, width=120)
    lines += ["  " + line for line in rendered.rstrip().splitlines()]
    return "\n".join(lines)


def render_json(runs: list[OfflineRun]) -> str:
    return json.dumps({"stacks": [summary(run) for run in runs]}, indent=2, sort_keys=True)
