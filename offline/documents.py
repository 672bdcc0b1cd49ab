"""One stack's offline preview as data: the JSON schema's `stack` object (docs/preview-json.md,
docs/preview.schema.json), which every format renders; several stacks at once in forked processes.
"""

from __future__ import annotations

import gc
import hashlib
import json
import multiprocessing
import os
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import sdk_internals
from constellab.settings import StackSettings
from offline.engine import OfflineRun, Registration, mask, reveal

PackConfig = Mapping[str, Mapping[str, Any]]
"""A pack configuration as `offline.guardrails.load_config` reads it: {rule: {key: value}}."""

SCHEMA_VERSION = 1


UNKNOWN_MARK = "<unknown until apply>"


def _plain(value: Any) -> str:
    """How a value JSON cannot hold is fingerprinted: an unknown one (a preview's) is always the same."""
    if isinstance(value, sdk_internals.Unknown):
        return UNKNOWN_MARK
    return str(value)


def _fingerprint(value: Any) -> str:
    """A short digest of an input's real value, so a change to a secret-carrying input is still seen."""
    encoded = json.dumps(reveal(value), sort_keys=True, default=_plain).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


DYNAMIC_PROVIDER_KEY = "__provider"
"""A dynamic resource's own provider, pickled into its inputs (`pulumi.dynamic`): code, not configuration."""


def _resource(registration: Registration) -> dict[str, Any]:
    inputs = {key: value for key, value in registration.inputs.items() if key != DYNAMIC_PROVIDER_KEY}
    return {
        "urn": registration.urn,
        "type": registration.type,
        "name": registration.name,
        "parent": registration.parent or None,
        "custom": registration.custom,
        "id": registration.id,
        "inputs": mask(inputs),
        "fingerprints": {key: _fingerprint(value) for key, value in sorted(inputs.items())},
        "inputDependencies": {
            key: registration.input_dependencies[key] for key in sorted(registration.input_dependencies)
        },
        "aliases": registration.alias_urns,
        "options": {
            "protect": registration.protect,
            "retainOnDelete": registration.retain_on_delete,
            "dependsOn": sorted(registration.dependencies),
            "provider": registration.provider.rsplit("::", 1)[0] if registration.provider else None,
            "deleteBeforeReplace": registration.delete_before_replace,
            "ignoreChanges": sorted(registration.ignore_changes),
            "replaceOnChanges": sorted(registration.replace_on_changes),
        },
    }


def lab_manager_sets(settings: StackSettings) -> dict[str, dict[str, Any]]:
    """Per hub and lab, what its lab manager runs itself, from the one description in `lab_host`."""
    from constellab import lab_host, naming

    platform = settings.platform
    found: dict[str, dict[str, Any]] = {}
    for server in platform.lab_hosts():
        host = naming.server_host(server.name, platform.base_domain)
        found[server.name] = {
            "host": host,
            "configuredBy": "stack" if server.configured_by_stack else "space",
            "containers": [
                {
                    "name": container.name,
                    "role": container.role,
                    "networks": list(container.networks),
                    "routes": [
                        {"host": f"{route.host}.{host}", "port": route.port, "basicAuth": route.basic_auth}
                        for route in container.routes
                    ],
                    "publishedPorts": list(container.published_ports),
                }
                for container in lab_host.lab_manager_containers(server.biota)
            ],
        }
    return found


def server_summaries(settings: StackSettings) -> dict[str, dict[str, Any]]:
    """Per server: its role, placement and power (what the diagram marks), from the stack file."""
    from constellab.config import Lab, Space
    from constellab.naming import role_of

    found: dict[str, dict[str, Any]] = {}
    for _, server in settings.platform.servers():
        power = "always on"
        if isinstance(server, Lab):
            kinds = [word for word, on in (("scheduled", server.schedule), ("idle stop", server.idle_stop)) if on]
            power = "parked" if server.state == "stopped" else " + ".join(kinds) or "always on"
        if not isinstance(server, Space) and server.retired:
            power = "retired"
        found[server.name] = {"role": role_of(server), "placement": server.placement.kind, "power": power}
    return found


def cost_of(document: dict[str, Any], budget: float | None = None) -> dict[str, Any]:
    """The document's `cost`: the shipped price table's monthly estimate of what it declares on AWS
    (`constellab.cost.estimate`), trimmed to the totals and each server's month, and the stack's budget."""
    from constellab.cost import estimate, prices

    table = prices.shipped()
    cost = estimate.estimate(document, table, document.get("region")).brief(table.built)
    return {**cost, "budgetMonthlyUsd": budget}


def _schedules(outputs: dict[str, Any]) -> dict[str, Any]:
    servers = outputs.get("servers", {}) if isinstance(outputs.get("servers"), dict) else {}
    return {
        name: {"weeklyRunningHours": server["weeklyRunningHours"], "savingPercent": server["savingPercent"]}
        for name, server in sorted(servers.items())
        if isinstance(server, dict) and "weeklyRunningHours" in server
    }


def run_cost(run: OfflineRun) -> dict[str, Any]:
    """The run's `cost` (as `stack_document` has it) without the rest of the document (`ops check`'s budget)."""
    outputs = mask(run.outputs)
    return cost_of(
        {
            "stack": run.stack,
            "region": run.settings.aws_region,
            "resources": [_resource(r) for r in run.registrations],
            "outputs": outputs,
            "schedules": _schedules(outputs),
            "servers": server_summaries(run.settings),
        },
        _budget(run),
    )


def _budget(run: OfflineRun) -> float | None:
    budget = run.settings.platform.budget
    return None if budget is None else budget.monthly_usd


def stack_document(run: OfflineRun, pack_config: PackConfig | None = None) -> dict[str, Any]:
    """One stack's preview as data: resources with inputs and options, summary, outputs, policies (with the
    pack configuration's levels, as `ops check --policy-config` takes it), and the monthly cost estimate
    (`cost`, from the shipped price table; the budget guardrail reads it)."""
    from offline.guardrails import check_run

    custom = [r for r in run.registrations if r.custom and not r.type.startswith("pulumi:providers:")]
    outputs = mask(run.outputs)
    schedules = _schedules(outputs)
    document = {
        "stack": run.stack,
        "region": run.settings.aws_region,
        "summary": {"resources": len(custom), "byType": dict(sorted(Counter(r.type for r in custom).items()))},
        "resources": [_resource(r) for r in sorted(run.registrations, key=lambda r: r.urn)],
        "outputs": outputs,
        "policies": [],
        "schedules": schedules,
        "labManager": lab_manager_sets(run.settings),
        "servers": server_summaries(run.settings),
    }
    document["cost"] = cost_of(document, _budget(run))
    violations = check_run(run, pack_config, cost=document["cost"])
    document["policies"] = [violation.as_dict() for violation in violations]
    return document


def _document_for(path: str, pack_config: PackConfig | None = None) -> dict[str, Any]:
    from offline.engine import run_program

    return stack_document(run_program(Path(path)), pack_config)


def renewed_resources(
    path: Path, renewed: frozenset[tuple[str, str]], recomputed: frozenset[tuple[str, str]]
) -> dict[str, Any]:
    """The stack's resources in a preview where what `renewed` and `recomputed` compute is unknown (`offline.diff`)."""
    from offline.engine import run_program

    run = run_program(path, renewed=renewed, recomputed=recomputed, preview=True)
    return {"stack": run.stack, "resources": [_resource(r) for r in run.registrations]}


# A worker leaves cyclic garbage to pile up until it holds this many objects (roughly 800 MB): freeing
# a stack's run costs about a third of the run itself, and a worker that finishes first never pays it
# (forked workers leave with os._exit, without tearing their heap down).
WORKER_GARBAGE_LIMIT = 4_000_000


def _start_worker() -> None:
    gc.disable()


def _document_in_worker(path: str, pack_config: PackConfig | None = None) -> dict[str, Any]:
    document = _document_for(path, pack_config)
    if gc.get_count()[0] > WORKER_GARBAGE_LIMIT:
        gc.collect()
    return document


def stack_documents(
    paths: list[Path],
    jobs: int | None = None,
    progress: Callable[[str], None] | None = None,
    pack_config: PackConfig | None = None,
) -> list[dict[str, Any]]:
    """Previews stacks, in parallel processes forked after the imports (so each stack costs only its run)."""
    import program  # noqa: F401  (imported once, before forking, for every worker)

    jobs = max(1, min(jobs or os.cpu_count() or 1, len(paths)))
    if len(paths) > 1:
        _warm(paths)
    # The imported modules live until exit: out of the collector's sight, collections only walk what
    # the stacks create, and forked workers share those pages instead of copying them.
    gc.freeze()
    # Forking a process that runs other threads can deadlock the child: only fork when alone.
    alone = threading.active_count() == 1
    if jobs == 1 or len(paths) == 1 or not alone or "fork" not in multiprocessing.get_all_start_methods():
        documents = []
        for index, path in enumerate(paths):
            if progress:
                progress(f"[{index + 1}/{len(paths)}] {path.name}")
            documents.append(_document_for(str(path), pack_config))
        return documents
    fork = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=fork, initializer=_start_worker) as pool:
        futures = [pool.submit(_document_in_worker, str(path), pack_config) for path in paths]
        documents = []
        for index, (path, future) in enumerate(zip(paths, futures, strict=True)):
            documents.append(future.result())
            if progress:
                progress(f"[{index + 1}/{len(paths)}] {path.name}")
        return documents


def _warm(paths: list[Path]) -> None:
    """Imports, once and before forking, the provider modules the selected stacks will use."""
    import importlib

    from constellab.settings import load_stack_file

    platforms = [load_stack_file(path, require_secrets=False).platform for path in paths]
    modules = ["pulumi_docker", "pulumi_random", "offline.guardrails"]
    if any(platform.uses_aws for platform in platforms):
        modules += ["components.hub", "components.space", "components.network", "components.cloud_server"]
        modules += ["components.power", "components.bucket", "components.backups", "pulumi_command.remote"]
        modules += [f"pulumi_aws.{name}" for name in ("ec2", "s3", "iam", "vpc", "ebs", "cloudwatch", "scheduler")]
        modules += ["pulumi_aws.ec2transitgateway"]
    if any(server.configured_by_stack for platform in platforms for server in platform.lab_hosts()):
        modules += ["components.lab_configuration", "pulumi_command.local"]
    if any(platform.dns.provider == "cloudflare" for platform in platforms):
        modules += ["components.dns"]
    for module in modules:
        # Provider packages load their modules lazily: reading an attribute runs the body now, once
        # in the parent, rather than once in every worker at its first stack.
        getattr(importlib.import_module(module), "__all__", None)
