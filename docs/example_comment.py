"""The pull-request comment shown in the README, produced from the shipped stacks by the real preview.

The change: a pull request that upgrades pharma-onprem's lab manager. Every shipped stack is previewed as
it is (the base branch) and as changed, exactly as `ops preview --against` does, and the comment is
rendered as the workflow posts it.

    .venv/bin/python docs/example_comment.py --write   # rewrite the README's example
    .venv/bin/python docs/example_comment.py --check   # exit 1 when the README's example is stale
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

README = ROOT / "README.md"
START = "<!-- example-comment:start -->"
END = "<!-- example-comment:end -->"
CHANGED_STACK = "pharma-onprem"
NEW_LAB_MANAGER = "constellab/lab-manager:2.5.0"
REPORT_URL = "https://github.com/acme/constellab-platform/actions/runs/1234567890"


def render() -> str:
    from offline.diff import diff
    from offline.documents import renewed_resources, stack_document
    from offline.engine import run_program
    from offline.report import markdown

    stacks = sorted(path for path in (ROOT / "stacks").glob("Pulumi.*.yaml"))
    with tempfile.TemporaryDirectory() as folder:
        changed = Path(folder) / f"Pulumi.{CHANGED_STACK}.yaml"
        document = yaml.safe_load((ROOT / "stacks" / changed.name).read_text())
        document["config"]["constellab:platform"]["images"]["labManager"] = NEW_LAB_MANAGER
        changed.write_text(yaml.safe_dump(document, sort_keys=False))
        before = {path.name[7:-5]: stack_document(run_program(path)) for path in stacks}
        after_paths = {name: (changed if name == CHANGED_STACK else ROOT / "stacks" / f"Pulumi.{name}.yaml")
                       for name in before}  # fmt: skip
        after = {name: stack_document(run_program(path)) for name, path in after_paths.items()}
        changes = diff(
            dict(before),
            after,
            "origin/main",
            rerun=lambda stack, renewed, recomputed: renewed_resources(after_paths[stack], renewed, recomputed),
        )
    return markdown(list(after.values()), changes, full_report=REPORT_URL, before=dict(before))


def readme_block(comment: str) -> str:
    return f"{START}\n\n{comment}\n{END}"


def current() -> str:
    text = README.read_text(encoding="utf-8")
    return text[text.index(START) : text.index(END) + len(END)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the README's example")
    parser.add_argument("--check", action="store_true", help="exit 1 when the README's example is stale")
    args = parser.parse_args()
    block = readme_block(render())
    if args.write:
        text = README.read_text(encoding="utf-8")
        README.write_text(text.replace(current(), block), encoding="utf-8")
        return 0
    if args.check:
        if current() != block:
            print("README.md: the example comment is stale: run docs/example_comment.py --write", file=sys.stderr)
            return 1
        return 0
    print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
