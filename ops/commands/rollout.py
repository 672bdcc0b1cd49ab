"""`ops rollout`: preview or up many stacks, wave by wave, after an offline pre-flight (Pulumi CLI needed)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ops import common

NAME = "rollout"
HELP = "preview or up many stacks, wave by wave (Pulumi CLI needed)"
DESCRIPTION = (
    "Roll a change out over the stacks of stacks/rollout.yaml, wave by wave. Every selected "
    "stack must validate and pass the mandatory guardrails offline before anything starts."
)

EXAMPLES = (
    "./run ops rollout --wave canary",
    "./run ops rollout --stack 'acme-*' --stack biolab-hybrid --up --concurrency 2",
    "./run ops rollout --up --resume runs/20261204-101500/report.json",
)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wave", metavar="<wave>", help="only this wave")
    parser.add_argument(
        "--stack",
        action="append",
        default=[],
        metavar="<stack-or-glob>",
        help="only this stack, or the stacks matching this glob (repeatable; default: every stack)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--preview", action="store_true", help="pulumi preview (the default)")
    mode.add_argument("--up", action="store_true", help="pulumi up")
    parser.add_argument(
        "--concurrency", type=common.at_least_one, default=1, metavar="<n>", help="stacks at once per wave (1)"
    )
    parser.add_argument("--max-failures", type=common.at_least_one, metavar="<n>", help="halt after this many failures")
    parser.add_argument("--resume", metavar="<report.json>", help="skip the stacks that succeeded in that report")
    parser.add_argument(
        "--run-dir", default=str(common.ROOT / "runs"), metavar="<dir>", help="where logs and reports go"
    )


def preflight(stacks: list[str]) -> list[str]:
    """Problems that stop a rollout before it starts: invalid stacks, mandatory guardrail violations."""
    from constellab.settings import StackConfigError, load_stack_file
    from offline import documents

    problems = []
    paths = [common.STACKS / f"Pulumi.{stack}.yaml" for stack in stacks]
    for path in paths:
        try:
            load_stack_file(path)
        except StackConfigError as error:
            problems.append(error.render(common.shown(path)))
    if problems:
        return problems
    for document in documents.stack_documents(paths):
        problems += [
            f"{document['stack']}: [{v['rule']}] {v['message']}"
            for v in document["policies"]
            if v["level"] == "mandatory"
        ]
    return problems


def run(args: argparse.Namespace) -> int:
    from ops import rollout

    known = common.known_stacks()
    try:
        plan = rollout.load_plan(common.STACKS, known)
        selection = rollout.select(plan, args.wave, args.stack)
        skip = rollout.done_in(Path(args.resume), "up" if args.up else "preview") if args.resume else set()
    except rollout.RolloutError as error:
        raise common.UsageError(str(error)) from None
    common.check_directory_can_be_made(args.run_dir, "--run-dir")
    missing = rollout.pulumi_cli_missing()  # only once the arguments are known to be right
    if missing:
        raise common.UsageError(missing)
    todo = [stack for _, stack in selection if stack not in skip]
    print(f"checking {len(todo)} stack(s) offline before anything starts", file=sys.stderr, flush=True)
    problems = preflight(todo)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print("rollout not started: fix the problems above", file=sys.stderr)
        return 1
    if args.concurrency > 1:
        try:
            rollout.prepare_policy_pack(common.ROOT / "policies", lambda message: print(message, file=sys.stderr))
        except rollout.RolloutError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    run_dir = Path(args.run_dir) / time.strftime("%Y%m%d-%H%M%S")
    runner = rollout.AutomationRunner(common.ROOT, run_dir / "workspaces", common.ROOT / "policies")
    action: rollout.Action = "up" if args.up else "preview"
    try:
        orchestrator = rollout.Rollout(runner, run_dir, action, args.concurrency, args.max_failures)
    except rollout.RolloutError as error:
        raise common.UsageError(str(error)) from None
    report = orchestrator.run(selection, skip)
    print(rollout.render_table(report))
    print(f"report: {run_dir / 'report.json'} (logs in {run_dir / 'logs'})")
    return 1 if report.halted or any(s.result == "failed" for s in report.stacks) else 0
