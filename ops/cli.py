"""Command line of the toolkit: validate stack files, preview stacks offline, export the schema."""

from __future__ import annotations

import argparse
import math
import os
import sys
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from constellab.naming import Server
    from constellab.settings import StackSettings

ROOT = Path(__file__).resolve().parent.parent
STACKS = ROOT / "stacks"
USAGE_ERROR = 2


class UsageError(Exception):
    """Bad arguments: reported in one line, exit 2."""


def at_least_one(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small: give 1 or more")
    return value


def positive_seconds(text: str) -> float:
    """argparse type: a finite number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a duration: give seconds above 0")
    return value


def check_directory_can_be_made(given: str, argument: str) -> None:
    """Refuses, before any work starts, a directory that exists as a file or cannot be created."""
    from ops.files import why_no_files_can_go_in

    if not given.strip():
        raise UsageError(f"{argument}: give a directory")
    problem = why_no_files_can_go_in(Path(given))
    if problem:
        raise UsageError(f"{argument} {given}: {problem}")


def stack_files(names: Sequence[str], all_stacks: bool) -> list[Path]:
    """Stack names (or paths) to stack files, refusing unknown ones with the list of known stacks."""
    known = sorted(STACKS.glob("Pulumi.*.yaml"))
    if all_stacks:
        if not known:
            raise UsageError(f"no stack files in {STACKS}")
        return known
    if not names:
        raise UsageError("name a stack with --stack <stack> (repeatable) or use --all")
    found = []
    for name in names:
        path = Path(name)
        candidate = path if path.suffix in (".yaml", ".yml") else STACKS / f"Pulumi.{name}.yaml"
        if candidate.is_symlink() and not candidate.exists():
            raise UsageError(f"{candidate}: a broken or looping symbolic link")
        if candidate.exists() and not candidate.is_file():
            raise UsageError(f"{candidate}: not a regular file (a stack file is Pulumi.<stack>.yaml)")
        if not candidate.is_file():
            choices = ", ".join(known_stacks()) or "none"
            raise UsageError(f"unknown stack {name!r} (stacks: {choices})")
        if not candidate.name.startswith("Pulumi.") or candidate.name.count(".") < 2:
            raise UsageError(f"{candidate}: a stack file is named Pulumi.<stack>.yaml")
        if candidate not in found:  # a stack named twice is previewed once
            found.append(candidate)
    return found


def cmd_validate(args: argparse.Namespace) -> int:
    from constellab.settings import StackConfigError, load_stack_file

    paths = [Path(p) for p in args.files] or sorted(STACKS.glob("Pulumi.*.yaml"))
    failed = 0
    for path in paths:
        if not path.is_file():
            print(f"{path}: no such stack file", file=sys.stderr)
            failed += 1
            continue
        try:
            settings = load_stack_file(path)
        except StackConfigError as error:
            print(error.render(), file=sys.stderr)
            failed += 1
        else:
            servers = ", ".join(f"{server.name} ({server.placement.kind})" for _, server in settings.platform.servers())
            print(f"{path}: valid — {servers}")
    return 1 if failed else 0


def cmd_preview(args: argparse.Namespace) -> int:
    from constellab.settings import StackConfigError, load_stack_file
    from ops import preview, render_proxy

    if args.out is not None and args.format != "mermaid":
        raise UsageError("--out writes one diagram file per stack: use it with --format mermaid")
    if (args.full_report is not None or args.report_url is not None) and args.format != "markdown":
        raise UsageError("--full-report and --report-url belong to the pull-request comment: use --format markdown")
    out = None
    if args.out is not None:
        try:
            out = render_proxy.output_directory(args.out)
        except render_proxy.OutputError as error:
            raise UsageError(str(error)) from None
    if args.full_report is not None:
        check_directory_can_be_made(str(Path(args.full_report).parent), "--full-report")
    paths = stack_files(args.stack, args.all)
    for path in paths:
        try:
            load_stack_file(path)
        except StackConfigError as error:
            if len(error.issues) == 1:
                raise UsageError(f"{error.source}: {error.issues[0]}") from None
            print(error.render(), file=sys.stderr)
            return USAGE_ERROR
    before = None
    if args.against is not None:
        from ops.diff import AgainstError, documents_at

        try:
            before = documents_at(ROOT, args.against, [stack_name(path) for path in paths])
        except AgainstError as error:
            raise UsageError(str(error)) from None

    def progress(message: str) -> None:
        if len(paths) > 1:
            print(message, file=sys.stderr, flush=True)

    documents = preview.stack_documents(paths, args.jobs, progress)
    changes = None
    if before is not None:
        from ops.diff import diff

        by_stack = {stack_name(path): path for path in paths}
        changes = diff(
            before,
            {d["stack"]: d for d in documents},
            args.against,
            rerun=lambda stack, renewed, recomputed: preview.renewed_resources(by_stack[stack], renewed, recomputed),
        )
    if args.format == "json":
        print(preview.render_json(documents, changes))
        return 0
    from ops import diagram, report

    if args.format == "markdown":
        if args.full_report is not None:
            full = report.markdown(documents, changes, limit=None, before=before)
            written = render_proxy.write(
                [render_proxy.RenderedFile(Path(args.full_report).name, full, secret=False)],
                Path(args.full_report).parent,
            )
            print(f"full report: {written[0]}", file=sys.stderr)
        print(report.markdown(documents, changes, full_report=args.report_url, before=before), end="")
    elif args.format == "mermaid":
        diffs = {d["stack"]: d for d in (changes or {}).get("stacks", [])}
        diagrams = {
            d["stack"]: diagram.mermaid(d, diffs.get(d["stack"]), (before or {}).get(d["stack"])) for d in documents
        }
        if out is not None:
            files = [
                render_proxy.RenderedFile(f"{stack}.mmd", text + "\n", secret=False) for stack, text in diagrams.items()
            ]
            for path in render_proxy.write(files, out):
                print(path)
        elif len(diagrams) == 1:
            print(next(iter(diagrams.values())))
        else:
            print(diagram.markdown_blocks(diagrams), end="")
    else:
        if changes is not None:
            print(report.render_diff_text(changes))
            print()
        for document in documents:
            print(preview.render_text(document))
            print()
    return 0


def known_stacks(stacks_dir: Path | None = None) -> list[str]:
    """Every stack with a file in `stacks_dir` (stacks/), sorted."""
    return [stack_name(path) for path in sorted((stacks_dir or STACKS).glob("Pulumi.*.yaml"))]


def stack_name(path: Path) -> str:
    from constellab.settings import stack_name_of

    return stack_name_of(path)


class InvalidStackError(Exception):
    """The stack file has problems (already printed): exit 1."""


def stack_and_server(stack: str, server: str) -> tuple[StackSettings, Server]:
    """A validated stack and one of its servers; unknown names are usage errors."""
    from constellab.settings import StackConfigError, load_stack_file

    path = stack_files([stack], False)[0]
    try:
        settings = load_stack_file(path)
    except StackConfigError as error:
        print(error.render(), file=sys.stderr)
        raise InvalidStackError from None
    servers = {found.name: found for _, found in settings.platform.servers()}
    if server not in servers:
        raise UsageError(f"stack {stack!r} has no server {server!r} (servers: {', '.join(servers)})")
    return settings, servers[server]


def cmd_render_proxy(args: argparse.Namespace) -> int:
    from ops import render_proxy

    try:
        out = render_proxy.output_directory(args.out)  # Path('') would silently be '.'
    except render_proxy.OutputError as error:
        raise UsageError(str(error)) from None
    settings, server = stack_and_server(args.stack, args.server)
    reader = render_proxy.secret_reader(args.stack, ROOT) if args.show_secrets else None
    try:
        files = render_proxy.render(settings.platform, server, reader)
        written = render_proxy.write(files, out)
    except (render_proxy.SecretUnavailableError, render_proxy.OutputError) as error:
        raise UsageError(str(error)) from None
    for path in written:
        print(path)
    if not args.show_secrets:
        print("secrets are placeholders: --show-secrets writes the real values", file=sys.stderr)
    return 0


def cmd_lab(args: argparse.Namespace) -> int:
    from ops.lab import LabCommandError, LabControl, as_json, render_status

    settings, _ = stack_and_server(args.stack, args.server)
    if args.health_url is not None:
        if args.action != "start" or not args.wait or args.no_health:
            raise UsageError("--health-url is used by `start --wait` only (without --no-health)")
        target = urllib.parse.urlsplit(args.health_url)
        if target.scheme not in ("http", "https") or not target.hostname:
            raise UsageError(
                f"--health-url {args.health_url!r}: give an http(s) URL, e.g. https://lab-manager.<host>/health-check"
            )
    try:
        control = LabControl(args.stack, settings.platform, args.server, settings.aws_region or "")
        if args.action == "status":
            report = control.status()
            print(as_json(report) if args.json else render_status(report))
        elif args.action == "start":
            result = control.start(args.wait, not args.no_health, args.health_url, args.timeout)
            print(as_json(result) if args.json else result["message"])
        else:
            result = control.stop(args.wait, args.timeout)
            print(as_json(result) if args.json else result["message"])
    except LabCommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    import json

    from constellab.settings import StackConfigError, load_stack_file
    from ops import guardrails
    from ops.offline import run_program

    paths = stack_files(args.stack, args.all)
    try:
        pack_config = guardrails.load_config(Path(args.policy_config) if args.policy_config else None)
    except (OSError, ValueError) as error:
        raise UsageError(f"--policy-config: {error}") from None
    failed = False
    if args.against is not None:
        failed |= _check_removals(paths, args.against)
    report = {}
    for path in paths:
        try:
            load_stack_file(path)
        except StackConfigError as error:
            print(error.render(), file=sys.stderr)
            failed = True
            continue
        run = run_program(path)
        violations = guardrails.check_run(run, pack_config)
        failed |= any(v.level == "mandatory" for v in violations)
        if args.format == "json":
            report[run.stack] = [v.as_dict() for v in violations]
        else:
            print(guardrails.render(run.stack, violations, len(guardrails.disabled_rules(pack_config))))
    if args.format == "json":
        print(json.dumps(report, indent=2, sort_keys=True))
    return 1 if failed else 0


def _check_removals(paths: list[Path], ref: str) -> bool:
    """Reports the hubs and labs each stack file lost since `ref`; True when one was not retired first."""
    from constellab import yaml_io
    from ops import decommission
    from ops.git import GitRefError, resolve_commit

    try:
        commit = resolve_commit(ROOT, ref)
    except GitRefError as error:
        raise UsageError(str(error)) from None
    refused = False
    for path in paths:
        before = decommission.stack_file_at(ROOT, commit, str(path.resolve().relative_to(ROOT)))
        if before is None:
            continue  # a new stack: nothing to lose
        after = yaml_io.load(path.read_text())
        for removal in decommission.removals(path.name[len("Pulumi.") : -len(".yaml")], before, after):
            print(("error: " if not removal.retired_first else "note: ") + removal.message(), file=sys.stderr)
            refused |= not removal.retired_first
    return refused


def deployable(names: list[str]) -> list[str]:
    """The stacks a rollout or a deploy may touch: all but those rollout.yaml excludes."""
    from ops.rollout import RolloutError, load_plan

    try:
        excluded = set(load_plan(STACKS, names).excluded)
    except RolloutError as error:
        raise UsageError(str(error)) from None
    return [name for name in names if name not in excluded]


def cmd_stacks(args: argparse.Namespace) -> int:
    import json

    from constellab.settings import StackConfigError, load_stack_file

    names = known_stacks()
    if args.deployable:
        names = deployable(names)
    entries = []
    for name in names:
        try:
            customer = load_stack_file(STACKS / f"Pulumi.{name}.yaml").platform.customer
        except StackConfigError as error:
            print(error.render(), file=sys.stderr)
            return 1
        entries.append({"stack": name, "customer": customer})
    if args.format == "json":
        print(json.dumps(entries))
    else:
        print("\n".join(entry["stack"] for entry in entries))
    return 0


def cmd_affected(args: argparse.Namespace) -> int:
    from ops.affected import AffectedError, affected_stacks, changed_files

    names = known_stacks()
    try:
        stacks = affected_stacks(changed_files(ROOT, args.against), names)
    except AffectedError as error:
        raise UsageError(str(error)) from None
    if args.deployable:
        allowed = set(deployable(names))
        stacks = [stack for stack in stacks if stack in allowed]
    if args.format == "args":
        print("--all" if stacks == names and stacks else " ".join(f"--stack {stack}" for stack in stacks))
    else:
        print("\n".join(stacks))
    return 0


def preflight(stacks: list[str]) -> list[str]:
    """Problems that stop a rollout before it starts: invalid stacks, mandatory guardrail violations."""
    from constellab.settings import StackConfigError, load_stack_file
    from ops import preview

    problems = []
    paths = [STACKS / f"Pulumi.{stack}.yaml" for stack in stacks]
    for path in paths:
        try:
            load_stack_file(path)
        except StackConfigError as error:
            problems.append(error.render())
    if problems:
        return problems
    for document in preview.stack_documents(paths):
        problems += [
            f"{document['stack']}: [{v['rule']}] {v['message']}"
            for v in document["policies"]
            if v["level"] == "mandatory"
        ]
    return problems


def cmd_rollout(args: argparse.Namespace) -> int:
    import time

    from ops import rollout

    missing = rollout.pulumi_cli_missing()
    if missing:
        raise UsageError(missing)
    known = known_stacks()
    try:
        plan = rollout.load_plan(STACKS, known)
        selection = rollout.select(plan, args.wave, args.stacks)
        skip = rollout.done_in(Path(args.resume), "up" if args.up else "preview") if args.resume else set()
    except rollout.RolloutError as error:
        raise UsageError(str(error)) from None
    check_directory_can_be_made(args.run_dir, "--run-dir")
    todo = [stack for _, stack in selection if stack not in skip]
    print(f"checking {len(todo)} stack(s) offline before anything starts", file=sys.stderr, flush=True)
    problems = preflight(todo)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print("rollout not started: fix the problems above", file=sys.stderr)
        return 1
    if args.concurrency > 1:
        try:
            rollout.prepare_policy_pack(ROOT / "policies", lambda message: print(message, file=sys.stderr))
        except rollout.RolloutError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    run_dir = Path(args.run_dir) / time.strftime("%Y%m%d-%H%M%S")
    runner = rollout.AutomationRunner(ROOT, run_dir / "workspaces", ROOT / "policies")
    action: rollout.Action = "up" if args.up else "preview"
    try:
        orchestrator = rollout.Rollout(runner, run_dir, action, args.concurrency, args.max_failures)
    except rollout.RolloutError as error:
        raise UsageError(str(error)) from None
    report = orchestrator.run(selection, skip)
    print(rollout.render_table(report))
    print(f"report: {run_dir / 'report.json'} (logs in {run_dir / 'logs'})")
    return 1 if report.halted or any(s.result == "failed" for s in report.stacks) else 0


def cmd_new_stack(args: argparse.Namespace) -> int:
    from ops import new_stack
    from ops.rollout import RolloutError

    given = {}
    for item in args.set:
        key, separator, value = item.partition("=")
        if not separator:
            raise UsageError(f"--set {item}: write path=value")
        given[key] = value
    interactive = not args.no_input

    def ask(prompt: str) -> str:
        print(prompt, end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    known = known_stacks()
    try:
        name, document = new_stack.build(
            STACKS, args.customer, args.env, args.source, given, ask if interactive else None,
            lambda message: print(f"  refused: {message}", file=sys.stderr), wave=args.wave,
        )  # fmt: skip
        wave = new_stack.write(STACKS, name, document, args.wave, known)
    except (new_stack.NewStackError, RolloutError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote stacks/Pulumi.{name}.yaml and added it to wave {wave}")
    print("create it and set its secrets (never written in the file):")
    for command in new_stack.secret_commands(name, document["config"]["constellab:platform"]):
        print(f"  {command}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from constellab.schema import SCHEMA_PATH, render_schema

    text = render_schema()
    if args.check:
        current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.is_file() else ""
        if current != text:
            print(f"{SCHEMA_PATH.relative_to(ROOT)} is out of date: run `python -m ops schema`", file=sys.stderr)
            return 1
        print(f"{SCHEMA_PATH.relative_to(ROOT)} is up to date")
        return 0
    SCHEMA_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA_PATH.relative_to(ROOT)}")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m ops",
        description="Constellab platform toolkit: check and preview customer stacks without the Pulumi CLI.",
    )
    commands = top.add_subparsers(dest="command", metavar="<command>", required=True)

    validate = commands.add_parser(
        "validate",
        help="check stack files (all of stacks/ when none is named)",
        description="Validate stack files without the Pulumi CLI: every problem with its field path; exit 1 if any.",
    )
    validate.add_argument("files", nargs="*", metavar="stacks/Pulumi.<stack>.yaml")
    validate.set_defaults(handler=cmd_validate)

    preview_cmd = commands.add_parser(
        "preview",
        help="run the program offline and show what it declares",
        description="Run the Pulumi program under Pulumi's mock engine (no CLI, no account, nothing created) "
        "and print the resource tree by component, counts per type and the stack outputs with secrets masked.",
    )
    preview_cmd.add_argument("--stack", action="append", default=[], metavar="<stack>", help="stack name (repeatable)")
    preview_cmd.add_argument("--all", action="store_true", help="every stack in stacks/")
    preview_cmd.add_argument(
        "--format",
        choices=("text", "json", "markdown", "mermaid"),
        default="text",
        help="json: docs/preview-json.md; markdown: one pull-request comment; mermaid: the servers' diagrams "
        "(one stack: the diagram; several: a ```mermaid block each, or one file each with --out)",
    )
    preview_cmd.add_argument(
        "--against", metavar="<git-ref>", help="also show what changes from the stacks as they are at this ref"
    )
    preview_cmd.add_argument("--out", metavar="<dir>", help="mermaid: write <stack>.mmd per stack into this directory")
    preview_cmd.add_argument(
        "--full-report", metavar="<file>", help="markdown: also write the whole report, which no size limit cuts"
    )
    preview_cmd.add_argument(
        "--report-url", metavar="<url>", help="markdown: where the comment says the full report is (an artifact)"
    )
    preview_cmd.add_argument(
        "--jobs", type=at_least_one, metavar="<n>", help="stacks previewed at once (default: cores)"
    )
    preview_cmd.set_defaults(handler=cmd_preview)

    render = commands.add_parser(
        "render-proxy",
        help="write a server's Traefik files (static, dynamic, certificates) for review or air-gapped installs",
        description="Write the Traefik configuration the toolkit deploys on one server. Secrets are placeholders "
        "unless --show-secrets, which reads them from CONSTELLAB_* environment variables or `pulumi config get`.",
    )
    render.add_argument("--stack", required=True, metavar="<stack>")
    render.add_argument("--server", required=True, metavar="<name>")
    render.add_argument("--out", required=True, metavar="<dir>")
    render.add_argument("--show-secrets", action="store_true", help="write real secret values (files mode 0600)")
    render.set_defaults(handler=cmd_render_proxy)

    affected = commands.add_parser(
        "affected",
        help="list the stacks a change affects (for pull requests)",
        description="Stacks whose files changed since <git-ref>, or every stack when shared code changed.",
    )
    affected.add_argument("--against", required=True, metavar="<git-ref>")
    affected.add_argument("--format", choices=("lines", "args"), default="lines", help="args: --stack options")
    affected.add_argument("--deployable", action="store_true", help="leave out the stacks rollout.yaml excludes")
    affected.set_defaults(handler=cmd_affected)

    stacks_cmd = commands.add_parser(
        "stacks",
        help="list the stacks, with their customer (for CI matrices)",
        description="List the stacks of stacks/; --deployable leaves out those rollout.yaml excludes.",
    )
    stacks_cmd.add_argument("--deployable", action="store_true")
    stacks_cmd.add_argument("--format", choices=("lines", "json"), default="lines")
    stacks_cmd.set_defaults(handler=cmd_stacks)

    check = commands.add_parser(
        "check",
        help="run the policy pack's guardrails offline",
        description="Run every guardrail of policies/ over the resources the program declares (offline, under "
        "the mock engine). Violations are grouped by resource; exit 1 if any is mandatory.",
    )
    check.add_argument("--stack", action="append", default=[], metavar="<stack>", help="stack name (repeatable)")
    check.add_argument("--all", action="store_true", help="every stack in stacks/")
    check.add_argument("--policy-config", metavar="<file.json>", help="pack configuration, as for pulumi preview")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument(
        "--against",
        metavar="<git-ref>",
        help="also refuse a hub or lab removed since this ref without being retired first (its data is protected)",
    )
    check.set_defaults(handler=cmd_check)

    roll = commands.add_parser(
        "rollout",
        help="preview or up many stacks, wave by wave (Pulumi CLI needed)",
        description="Roll a change out over the stacks of stacks/rollout.yaml, wave by wave. Every selected "
        "stack must validate and pass the mandatory guardrails offline before anything starts.",
    )
    roll.add_argument("--wave", metavar="<wave>", help="only this wave")
    roll.add_argument("--stacks", metavar="<glob>", help="only stacks matching this pattern")
    mode = roll.add_mutually_exclusive_group()
    mode.add_argument("--preview", action="store_true", help="pulumi preview (the default)")
    mode.add_argument("--up", action="store_true", help="pulumi up")
    roll.add_argument("--concurrency", type=at_least_one, default=1, metavar="<n>", help="stacks at once per wave (1)")
    roll.add_argument("--max-failures", type=at_least_one, metavar="<n>", help="halt after this many failures")
    roll.add_argument("--resume", metavar="<report.json>", help="skip the stacks that succeeded in that report")
    roll.add_argument("--run-dir", default=str(ROOT / "runs"), metavar="<dir>", help="where logs and reports go")
    roll.set_defaults(handler=cmd_rollout)

    new = commands.add_parser(
        "new-stack",
        help="scaffold stacks/Pulumi.<customer>-<env>.yaml and add it to a wave",
        description="Create a validated stack file from a template or an existing stack (--from); asks for "
        "the values without a default (or takes them from --set); never writes a secret.",
    )
    new.add_argument("customer")
    new.add_argument("env")
    new.add_argument("--from", dest="source", metavar="<stack>", help="start from this stack's settings")
    new.add_argument("--wave", metavar="<wave>", help="wave to add it to (default: the last)")
    new.add_argument("--set", action="append", default=[], metavar="<path=value>", help="answer a question")
    new.add_argument("--no-input", action="store_true", help="never ask: missing values are errors")
    new.set_defaults(handler=cmd_new_stack)

    lab = commands.add_parser(
        "lab",
        help="status, start or stop a cloud lab (AWS credentials needed)",
        description="Show, start or stop a cloud server's instance, found by its constellab:stack and "
        "constellab:server tags. Hubs and the space are never stopped. Starting a running lab or stopping a "
        "stopped one says so and exits 0.",
    )
    lab.add_argument("action", choices=("status", "start", "stop"))
    lab.add_argument("server", metavar="<server>")
    lab.add_argument("--stack", required=True, metavar="<stack>")
    lab.add_argument("--wait", action="store_true", help="return once the instance is running (or stopped)")
    lab.add_argument("--no-health", action="store_true", help="with start --wait: do not wait for the lab manager")
    lab.add_argument("--health-url", metavar="<url>", help="health check to wait for (default: the lab manager's)")
    lab.add_argument(
        "--timeout", type=positive_seconds, default=900, metavar="<seconds>", help="how long to wait (900)"
    )
    lab.add_argument("--json", action="store_true", help="machine-readable output")
    lab.set_defaults(handler=cmd_lab)

    schema = commands.add_parser(
        "schema",
        help="write the stack files' JSON Schema (stacks/stack.schema.json)",
        description="Write the JSON Schema editors use to check stack files; --check only compares.",
    )
    schema.add_argument("--check", action="store_true", help="exit 1 if the written schema is out of date")
    schema.set_defaults(handler=cmd_schema)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        status = int(args.handler(args))
        sys.stdout.flush()  # here, so a failed write is reported below rather than at exit
        return status
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except InvalidStackError:
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): nothing left to say, and nothing to flush at exit either.
        _drop_unwritten_output()
        return 141  # what a shell reports for a command stopped by SIGPIPE
    except OSError as error:
        # Output that cannot be written (a full disk) or a file the command needs: one line, not a trace.
        if error.filename is not None:
            print(f"error: {error.filename}: {error.strerror or error}", file=sys.stderr)
        else:
            print(f"error: {error.strerror or error}", file=sys.stderr)
        _drop_unwritten_output()
        return 1


def _drop_unwritten_output() -> None:
    """Points stdout at /dev/null so the interpreter does not fail again flushing it at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests capture it): nothing to flush
        pass
