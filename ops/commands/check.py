"""`ops check`: the policy pack's guardrails over what the program declares, offline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ops import common

NAME = "check"
HELP = "run the policy pack's guardrails offline"
DESCRIPTION = (
    "Run every guardrail of policies/ over the resources the program declares (offline, under "
    "the mock engine). Violations are grouped by resource; exit 1 if any is mandatory."
)

EXAMPLES = (
    "./run ops check --all",
    "./run ops check --stack acme-cloud --against origin/main --format json",
)


def arguments(parser: argparse.ArgumentParser) -> None:
    common.add_stack_selection(parser)
    parser.add_argument("--policy-config", metavar="<file.json>", help="pack configuration, as for pulumi preview")
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="text: by resource; json: by stack (text)"
    )
    parser.add_argument(
        "--against",
        metavar="<git-ref>",
        help="also refuse a hub or lab removed since this ref without being retired first (its data is protected)",
    )


def run(args: argparse.Namespace) -> int:
    from offline import guardrails
    from offline.engine import run_program

    paths = common.stack_files(args.stack, args.all)
    pack_config = common.policy_config(args.policy_config)
    failed = False
    if args.against is not None:
        failed |= check_removals(paths, args.against)
    report = {}
    invalid: list[str] = []
    for path in paths:
        if common.load_or_report(path, offline=True) is None:
            invalid.append(common.stack_name(path))  # its problems are printed: the others are checked all the same
            continue
        run_ = run_program(path)
        violations = guardrails.check_run(run_, pack_config)
        failed |= any(v.level == "mandatory" for v in violations)
        if args.format == "json":
            report[run_.stack] = [v.as_dict() for v in violations]
        else:
            counts = guardrails.rule_counts(pack_config, budget=run_.settings.platform.budget is not None)
            print(guardrails.render(run_.stack, violations, counts))
    if args.format == "json":
        print(json.dumps(report, indent=2, sort_keys=True))
    if invalid:
        names = ", ".join(invalid)
        print(f"error: {len(invalid)} stack(s) not checked, their problems are above: {names}", file=sys.stderr)
    return 1 if failed or invalid else 0


def check_removals(paths: list[Path], ref: str) -> bool:
    """Reports the hubs and labs each stack file lost since `ref`; True when one was not retired first."""
    from constellab import yaml_io
    from ops import decommission
    from ops.git import GitRefError, resolve_commit

    try:
        commit = resolve_commit(common.ROOT, ref)
    except GitRefError as error:
        raise common.UsageError(str(error)) from None
    refused = False
    for path in paths:
        before = decommission.stack_file_at(common.ROOT, commit, str(path.resolve().relative_to(common.ROOT)))
        if before is None:
            continue  # a new stack: nothing to lose
        after = yaml_io.load(path.read_text())
        for removal in decommission.removals(path.name[len("Pulumi.") : -len(".yaml")], before, after):
            print(("error: " if not removal.retired_first else "note: ") + removal.message(), file=sys.stderr)
            refused |= not removal.retired_first
    return refused
