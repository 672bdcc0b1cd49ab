"""`ops preview`: run the program offline and show what it declares, as text, JSON, Markdown or Mermaid."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ops import common

NAME = "preview"
HELP = "run the program offline and show what it declares"
DESCRIPTION = (
    "Run the Pulumi program under Pulumi's mock engine (no CLI, no account, nothing created) "
    "and print the resource tree by component, counts per type and the stack outputs with secrets masked."
)

EXAMPLES = (
    "./run ops preview --stack acme-cloud",
    "./run ops preview --all --format json > preview.json",
    "./run ops preview --all --against origin/main --format markdown --full-report report.md",
)


def arguments(parser: argparse.ArgumentParser) -> None:
    common.add_stack_selection(parser)
    parser.add_argument(
        "--format",
        choices=("text", "json", "markdown", "mermaid"),
        default="text",
        help="json: docs/preview-json.md; markdown: one pull-request comment; mermaid: the servers' diagrams "
        "(one stack: the diagram; several: a ```mermaid block each, or one file each with --out)",
    )
    parser.add_argument(
        "--against", metavar="<git-ref>", help="also show what changes from the stacks as they are at this ref"
    )
    parser.add_argument("--out", metavar="<dir>", help="mermaid: write <stack>.mmd per stack into this directory")
    parser.add_argument(
        "--full-report", metavar="<file>", help="markdown: also write the whole report, which no size limit cuts"
    )
    parser.add_argument(
        "--report-url", metavar="<url>", help="markdown: where the comment says the full report is (an artifact)"
    )
    parser.add_argument(
        "--jobs", type=common.at_least_one, metavar="<n>", help="stacks previewed at once (default: cores)"
    )
    parser.add_argument(
        "--policy-config",
        metavar="<file.json>",
        help="guardrail levels and settings, as `ops check --policy-config` (and pulumi preview) takes them",
    )


def _check_options(args: argparse.Namespace) -> Path | None:
    """Refuses options of another format before any work; the --out directory, if any."""
    from ops import render_proxy

    if args.out is not None and args.format != "mermaid":
        raise common.UsageError("--out writes one diagram file per stack: use it with --format mermaid")
    if (args.full_report is not None or args.report_url is not None) and args.format != "markdown":
        raise common.UsageError(
            "--full-report and --report-url belong to the pull-request comment: use --format markdown"
        )
    if args.full_report is not None:
        common.check_directory_can_be_made(str(Path(args.full_report).parent), "--full-report")
    if args.out is None:
        return None
    try:
        return render_proxy.output_directory(args.out)
    except render_proxy.OutputError as error:
        raise common.UsageError(str(error)) from None


def run(args: argparse.Namespace) -> int:
    from constellab.settings import StackConfigError, load_stack_file
    from offline import documents

    out = _check_options(args)
    pack_config = common.policy_config(args.policy_config)
    paths: list[Path] = []
    failed: list[str] = []
    for path in common.stack_files(args.stack, args.all):
        try:
            settings = load_stack_file(path, require_secrets=False)
        except StackConfigError as error:
            if not args.all and len(args.stack) <= 1:  # the one stack asked for: its problem is the command's
                if len(error.issues) == 1:
                    raise common.UsageError(f"{common.shown(path)}: {error.issues[0]}") from None
                print(error.render(common.shown(path)), file=sys.stderr)
                return common.USAGE_ERROR
            # One bad stack: the others are previewed all the same.
            print(error.render(common.shown(path)), file=sys.stderr)
            failed.append(common.stack_name(path))
            continue
        common.note_unset_secrets(path, settings)
        paths.append(path)
    if not paths:
        print(f"error: no stack to preview ({len(failed)} failed validation)", file=sys.stderr)
        return 1
    before = None
    if args.against is not None:
        from ops.against import AgainstError, documents_at

        try:
            before = documents_at(common.ROOT, args.against, [common.stack_name(path) for path in paths])
        except AgainstError as error:
            raise common.UsageError(str(error)) from None

    def progress(message: str) -> None:
        if len(paths) > 1:
            print(message, file=sys.stderr, flush=True)

    found = documents.stack_documents(paths, args.jobs, progress, pack_config)
    changes = None
    if before is not None:
        from offline.diff import diff

        by_stack = {common.stack_name(path): path for path in paths}
        changes = diff(
            before,
            {d["stack"]: d for d in found},
            args.against,
            rerun=lambda stack, renewed, recomputed: documents.renewed_resources(by_stack[stack], renewed, recomputed),
        )
    _print(args, found, changes, before, out, pack_config)
    if failed:
        print(
            f"error: {len(failed)} stack(s) not previewed, their problems are above: {', '.join(failed)}",
            file=sys.stderr,
        )
        return 1
    return 0


def _print(
    args: argparse.Namespace,
    found: list[dict[str, Any]],
    changes: dict[str, Any] | None,
    before: dict[str, dict[str, Any] | None] | None,
    out: Path | None,
    pack_config: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    from offline import diagram, report, text
    from ops import render_proxy

    if args.format == "json":
        print(text.render_json(found, changes))
    elif args.format == "markdown":
        if args.full_report is not None:
            full = report.markdown(found, changes, limit=None, before=before)
            written = render_proxy.write(
                [render_proxy.RenderedFile(Path(args.full_report).name, full, secret=False)],
                Path(args.full_report).parent,
            )
            print(f"full report: {written[0]}", file=sys.stderr)
        print(report.markdown(found, changes, full_report=args.report_url, before=before), end="")
    elif args.format == "mermaid":
        diffs = {d["stack"]: d for d in (changes or {}).get("stacks", [])}
        diagrams = {
            d["stack"]: diagram.mermaid(d, diffs.get(d["stack"]), (before or {}).get(d["stack"])) for d in found
        }
        if out is not None:
            files = [
                render_proxy.RenderedFile(f"{name}.mmd", body + "\n", secret=False) for name, body in diagrams.items()
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
        for document in found:
            print(text.render_text(document, pack_config))
            print()
