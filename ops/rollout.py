"""`ops rollout`: a change reaches customers wave by wave, stack by stack, safely and resumably.

The orchestration (waves, concurrency bound, halting, resume, report) talks to a `StackRunner`;
`AutomationRunner` is the real one (Pulumi Automation API, one workspace per stack, the stack's
settings read from `stacks/` because LocalWorkspace ignores `stackConfigDir`).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Protocol, TextIO

import yaml

from constellab.text_file import UnreadableFileError, read_text
from ops.rollout_plan import (
    ROLLOUT_FILE,
    RolloutError,
    RolloutPlan,
    Wave,
    load_plan,
    parse_plan,
    read_plan_text,
    select,
)

__all__ = [
    "ROLLOUT_FILE",
    "RolloutError",
    "RolloutPlan",
    "Wave",
    "load_plan",
    "parse_plan",
    "read_plan_text",
    "select",
]

Action = Literal["preview", "up"]
Result = Literal["succeeded", "failed", "skipped", "not-started"]


@dataclass
class StackOutcome:
    """What a runner reports for one stack."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    error: str | None = None


class StackRunner(Protocol):
    """Runs one stack's preview or update and says how it went (the Automation API, or a test double)."""

    def run(self, stack: str, action: Action, log: TextIO) -> StackOutcome: ...


def workspace_files(stack_file: Path, workspace: Path, project_root: Path) -> dict[str, str]:
    """The files of one stack's own Automation API workspace.

    A project file whose `main` points back at the repository (relative: Pulumi joins it to the
    workspace), the same virtualenv, and the stack's settings copied from `stacks/`.
    """
    project = yaml.safe_load((project_root / "Pulumi.yaml").read_text(encoding="utf-8"))
    options = dict(project.get("runtime", {}).get("options", {}))
    if "virtualenv" in options:
        options["virtualenv"] = str((project_root / options["virtualenv"]).resolve())
    settings = {
        "name": project["name"],
        "runtime": {"name": project["runtime"]["name"], "options": options},
        "main": os.path.relpath(project_root.resolve(), workspace.resolve()),
    }
    if "description" in project:
        settings["description"] = project["description"]
    stack = stack_file.name[len("Pulumi.") : stack_file.name.rindex(".")]
    return {
        "Pulumi.yaml": yaml.safe_dump(settings, sort_keys=False),
        f"Pulumi.{stack}.yaml": stack_file.read_text(encoding="utf-8"),
    }


class AutomationRunner:
    """Runs `pulumi preview|up` per stack through the Automation API, with the policy pack."""

    def __init__(self, project_root: Path, workspaces: Path, policy_pack: Path | None) -> None:
        self.project_root = project_root
        self.workspaces = workspaces
        self.policy_pack = policy_pack

    def prepare(self, stack: str) -> Path:
        workspace = self.workspaces / stack
        workspace.mkdir(parents=True, exist_ok=True)
        stack_file = self.project_root / "stacks" / f"Pulumi.{stack}.yaml"
        for name, content in workspace_files(stack_file, workspace, self.project_root).items():
            (workspace / name).write_text(content, encoding="utf-8")
        return workspace

    def run(self, stack: str, action: Action, log: TextIO) -> StackOutcome:
        from pulumi import automation as auto

        workspace = self.prepare(stack)
        packs = [str(self.policy_pack)] if self.policy_pack else None
        try:
            # A stack scaffolded by new-stack may not exist in the backend yet.
            selected = auto.create_or_select_stack(stack_name=stack, work_dir=str(workspace))
            changes: dict[str, int] = {}
            if action == "up":
                result = selected.up(on_output=log.write, color="never", policy_packs=packs)
                changes = {str(op): int(count) for op, count in (result.summary.resource_changes or {}).items()}
            else:
                preview = selected.preview(on_output=log.write, color="never", policy_packs=packs)
                changes = {str(getattr(op, "value", op)): int(n) for op, n in preview.change_summary.items()}
        except Exception as error:
            message = str(error).strip().splitlines()
            return StackOutcome(error=message[-1] if message else type(error).__name__)
        return StackOutcome(
            created=int(changes.get("create", 0)),
            updated=int(changes.get("update", 0)) + int(changes.get("replace", 0)),
            deleted=int(changes.get("delete", 0)),
        )


# In the pack's virtualenv once its requirements are installed: the requirements it was made from.
# A virtualenv without it (a run stopped half-way, or one Pulumi made) gets `pip install` again.
POLICY_VENV_READY = ".constellab-requirements"


def prepare_policy_pack(pack: Path, progress: Callable[[str], None]) -> None:
    """Creates the pack's virtualenv once, before stacks run side by side (each would create it).

    A failure raises `RolloutError` in one line and leaves no half-built virtualenv behind, so the
    next run installs again instead of trusting it.
    """
    import subprocess
    import sys

    venv = pack / "venv"
    requirements = pack / "requirements.txt"
    ready = venv / POLICY_VENV_READY
    try:
        wanted = requirements.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RolloutError(f"{requirements}: cannot read the policy pack's requirements ({error})") from None
    if ready.is_file() and ready.read_text(encoding="utf-8") == wanted:
        return
    created = not (venv / "bin" / "python").exists()
    progress(f"preparing the policy pack's virtualenv in {venv}")
    steps = [
        *([("create the virtualenv", [sys.executable, "-m", "venv", str(venv)])] if created else []),
        (
            f"install the packages of {requirements}",
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(requirements)],
        ),
    ]
    try:
        for what, command in steps:
            try:
                result = subprocess.run(command, capture_output=True, text=True, check=False)
            except OSError as error:
                raise RolloutError(f"policy pack: could not {what} in {venv}: {error.strerror}") from None
            if result.returncode != 0:
                said = (result.stderr or result.stdout).strip().splitlines()
                detail = f": {said[-1].removeprefix('ERROR: ')}" if said else ""
                raise RolloutError(
                    f"policy pack: could not {what} in {venv} (exit {result.returncode}){detail}; "
                    "check the network (or a pip index) and the requirements, then run the rollout again"
                )
        ready.write_text(wanted, encoding="utf-8")
    except BaseException:
        # Interrupted or failed: a virtualenv made here is removed, so no later run takes it as ready.
        if created:
            shutil.rmtree(venv, ignore_errors=True)
        raise


def pulumi_cli_missing() -> str | None:
    if shutil.which("pulumi") is None:
        return (
            "the Pulumi CLI is not installed: install it (curl -fsSL https://get.pulumi.com | sh, "
            "or brew install pulumi) and log in, then run the rollout again"
        )
    return None


# ---------------------------------------------------------------------------------------------
# Orchestration
# ---------------------------------------------------------------------------------------------


@dataclass
class StackReport:
    """What happened to one stack in a rollout."""

    stack: str
    wave: str
    result: Result = "not-started"
    duration: float = 0.0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    error: str | None = None


@dataclass
class RolloutReport:
    """A whole rollout, as written to report.json and read back by --resume."""

    action: Action
    started: str
    halted: bool = False
    stacks: list[StackReport] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def done_in(report_path: Path, action: Action) -> set[str]:
    """Stacks that succeeded in an earlier report of the same action (skipped on --resume)."""
    try:
        text = read_text(report_path)
    except UnreadableFileError as error:
        raise RolloutError(f"--resume {report_path}: {error} (give the report.json of an earlier run)") from None
    not_a_report = f"--resume {report_path}: not a rollout report"
    try:
        data = json.loads(text)
    except ValueError as error:
        raise RolloutError(f"{not_a_report} (not JSON: {error}): give the report.json of an earlier run") from None
    stacks = data.get("stacks") if isinstance(data, dict) else None
    reported = data.get("action") if isinstance(data, dict) else None
    entries = [item for item in stacks if isinstance(item, dict)] if isinstance(stacks, list) else []
    if (
        not isinstance(reported, str)
        or not isinstance(stacks, list)
        or len(entries) != len(stacks)
        or not all(isinstance(item.get("stack"), str) and isinstance(item.get("result"), str) for item in entries)
    ):
        raise RolloutError(
            f'{not_a_report} (it needs "action" and "stacks": [{{"stack": ..., "result": ...}}], as a '
            "rollout writes it): give the report.json of an earlier run"
        )
    done = {item["stack"] for item in entries if item["result"] in ("succeeded", "skipped")}
    if reported != action:
        raise RolloutError(f"--resume {report_path}: that report is of a {reported!r} rollout, this one is {action!r}")
    return done


class Rollout:
    """Runs the selected stacks wave by wave, at most `concurrency` at once, halting on failures."""

    def __init__(
        self,
        runner: StackRunner,
        run_dir: Path,
        action: Action,
        concurrency: int = 1,
        max_failures: int | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        if concurrency < 1:
            raise RolloutError("--concurrency must be at least 1")
        self.runner, self.run_dir, self.action = runner, run_dir, action
        self.concurrency, self.max_failures = concurrency, max_failures
        self.progress = progress or (lambda message: print(message, flush=True))
        self.started = time.monotonic()

    def _elapsed(self) -> str:
        return f"{time.monotonic() - self.started:6.1f}s"

    def _run_one(self, entry: StackReport) -> StackReport:
        self.progress(f"[{self._elapsed()}] {entry.wave}: {entry.stack} {self.action} started")
        log_path = self.run_dir / "logs" / f"{entry.stack}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        with log_path.open("w", encoding="utf-8") as log:
            try:
                outcome = self.runner.run(entry.stack, self.action, log)
            except Exception as error:
                outcome = StackOutcome(error=f"{type(error).__name__}: {error}")
        entry.duration = round(time.monotonic() - started, 2)
        entry.created, entry.updated, entry.deleted = outcome.created, outcome.updated, outcome.deleted
        entry.error = outcome.error
        entry.result = "failed" if outcome.error else "succeeded"
        changes = f"+{entry.created} ~{entry.updated} -{entry.deleted}"
        detail = f": {entry.error}" if entry.error else ""
        summary = f"{entry.result} in {entry.duration:.1f}s ({changes}){detail}"
        self.progress(f"[{self._elapsed()}] {entry.wave}: {entry.stack} {summary}")
        return entry

    def run(self, selection: list[tuple[str, str]], skip: set[str] | None = None) -> RolloutReport:
        report = RolloutReport(action=self.action, started=time.strftime("%Y-%m-%dT%H:%M:%S"))
        report.stacks = [StackReport(stack, wave) for wave, stack in selection]
        for entry in report.stacks:
            if entry.stack in (skip or set()):
                entry.result = "skipped"
        failures = 0
        waves = list(dict.fromkeys(wave for wave, _ in selection))
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            for wave in waves:
                pending = [e for e in report.stacks if e.wave == wave and e.result == "not-started"]
                if report.halted or not pending:
                    continue
                self.progress(f"[{self._elapsed()}] wave {wave}: {len(pending)} stack(s)")
                running: set[Future[StackReport]] = set()
                while pending or running:
                    while pending and len(running) < self.concurrency and not report.halted:
                        running.add(pool.submit(self._run_one, pending.pop(0)))
                    if not running:
                        break
                    finished, running = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        if future.result().result == "failed":
                            failures += 1
                    if self.max_failures is not None and failures >= self.max_failures and not report.halted:
                        report.halted = True
                        self.progress(
                            f"[{self._elapsed()}] halted after {failures} failure(s): "
                            "running stacks finish, no other starts"
                        )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "report.json").write_text(report.to_json(), encoding="utf-8")
        return report


def render_table(report: RolloutReport) -> str:
    rows = [("stack", "wave", "result", "duration", "created", "updated", "deleted", "error")]
    rows += [
        (s.stack, s.wave, s.result, f"{s.duration:.1f}s", str(s.created), str(s.updated), str(s.deleted), s.error or "")
        for s in report.stacks
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])
