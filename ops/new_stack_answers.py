"""What `ops new-stack` asks for, and each value checked as soon as it is given (`--set` or typed).

The stack being made is a `Draft`: the platform document and the plain settings beside it (`aws:region`).
A value is checked by validating the whole draft, secrets assumed set, and keeping only the problems on the
value's own field: the models in `constellab` stay the one place that says what a value may be, and the
fields not answered yet (missing, so refused too) are not the answer's fault.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from constellab.config_checks import ConfigIssue
from constellab.raw_document import raw_servers
from constellab.settings import (
    PLATFORM_KEY,
    RawStackConfig,
    SecretState,
    StackConfigError,
    required_members,
    required_secrets,
    validate,
)
from ops.common import UsageError

REGION = "aws:region"
MAX_ASKS = 3
"""How many times a refused answer is asked again before new-stack gives up."""


class NewStackError(Exception):
    """Refused before anything is written."""


class NewStackUsageError(UsageError):
    """A bad argument (name, `--set`, `--from`, `--wave`) or no way to answer: refused before anything, exit 2.

    A `UsageError`, so the command line reports it as one (`error: ...`, exit 2) like other commands' bad arguments.
    """


class NewStackAbortedError(Exception):
    """The input ended at a question (end of file, Ctrl-D): nothing is written."""

    def __init__(self, path: str) -> None:
        self.path = path
        """The question's path (`baseDomain`)."""
        super().__init__(f"input ended at {path}")


def get_path(document: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or None."""
    value: Any = document
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


@dataclass
class Draft:
    """The stack being made: `platform` is `constellab:platform`, `extra` the other plain keys (`aws:region`).

    A path with a colon (`aws:region`) is a key of `extra`; any other is a dotted path in `platform`.
    """

    platform: dict[str, Any]
    extra: dict[str, Any]

    def copy(self) -> Draft:
        return Draft(copy.deepcopy(self.platform), copy.deepcopy(self.extra))

    def get(self, path: str) -> Any:
        return self.extra.get(path) if ":" in path else get_path(self.platform, path)

    def has(self, path: str) -> bool:
        return self.get(path) not in (None, "", [])

    def put(self, path: str, value: Any) -> None:
        if ":" in path:
            self.extra[path] = value
            return
        *parents, last = path.split(".")
        target = self.platform
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value

    def drop(self, path: str) -> None:
        if ":" in path:
            self.extra.pop(path, None)
            return
        parent, _, last = path.rpartition(".")
        holder = get_path(self.platform, parent) if parent else self.platform
        if isinstance(holder, dict):
            holder.pop(last, None)

    def problems(self, source: str) -> list[ConfigIssue]:
        """Every problem of the draft, its secrets assumed set (they are set after, as secrets)."""
        secrets = {secret.key: SecretState.SECRET for secret in required_secrets(self.platform)}
        members = {secret.key: frozenset(servers) for secret, servers in required_members(self.platform).items()}
        values = {PLATFORM_KEY: self.platform, **self.extra}
        try:
            validate(RawStackConfig(values=values, secrets=secrets, secret_members=members), source)
        except StackConfigError as error:
            return list(error.issues)
        return []

    def problems_of(self, path: str) -> list[ConfigIssue]:
        """The problems on the field at `path` (its items `path[0]` and its fields `path.x` included)."""
        return [issue for issue in self.problems("") if on_field(issue.path, path)]


def on_field(issue_path: str, path: str) -> bool:
    return issue_path == path or issue_path.startswith((f"{path}[", f"{path}."))


def _zone_unused(draft: Draft) -> str | None:
    if draft.get("dns.provider") == "none":
        return "with dns.provider none the customer creates the records, no zone is used"
    return None


def _placements(draft: Draft) -> list[Any]:
    return [get_path(server.fields, "placement.kind") for server in raw_servers(draft.platform)]


def _region_unused(draft: Draft) -> str | None:
    kinds = _placements(draft)
    if kinds and all(kind == "local" for kind in kinds):
        return "every server runs on this machine (placement kind local), nothing is made in AWS"
    return None


def _keys_unused(draft: Draft) -> str | None:
    kinds = _placements(draft)
    if kinds and "cloud" not in kinds:
        return "no server is placed in the cloud, and only cloud servers get these keys (you run your own hosts)"
    return None


@dataclass(frozen=True)
class Question:
    """A value new-stack asks for when neither --set nor the starting stack gives it."""

    path: str
    """Dotted path in the platform document (or `aws:region`)."""
    prompt: str
    default: str | None = None
    many: bool = False
    """A comma-separated list."""
    unused: Callable[[Draft], str | None] = lambda draft: None
    """Why the stack being made would not use this value (then it is not asked, and `--set` is refused), or None."""

    def value(self, raw: str) -> Any:
        if self.many:
            return [part.strip() for part in raw.split(",") if part.strip()]
        return raw.strip()


QUESTIONS = [
    Question("baseDomain", "Base domain (each server is <name>.<domain>)"),
    Question(REGION, "AWS region", "eu-west-3", unused=_region_unused),
    Question("dns.provider", "DNS provider (cloudflare or none)", "cloudflare"),
    Question("dns.zoneId", "Cloudflare zone id", unused=_zone_unused),
    Question("adminCidrs", "Administrator networks (comma-separated CIDRs)", many=True),
    Question("sshPublicKeys", "Administrator SSH public keys (comma-separated)", many=True, unused=_keys_unused),
    Question("endpoints.spaceApiUrl", "Collaborative space API URL"),
    Question("endpoints.spaceFrontUrl", "Collaborative space front URL"),
]
PATHS = tuple(question.path for question in QUESTIONS)


def complete(
    draft: Draft, given: Mapping[str, str], ask: Callable[[str], str] | None, say: Callable[[str], None], source: str
) -> None:
    """Fills `draft` from `given` (`--set`, its paths known), then from `ask` for what is still missing.

    Each value is checked when it is given, before the next question: a refused `--set` value is said and
    asked for in its turn (without `ask`, every refused one is reported and new-stack stops); a refused answer
    is said in one line and asked again. A `--set` value the stack would not use is a usage error, and a
    question the stack would not use is not asked. Raises `NewStackError` when problems remain at the end.
    """
    for question in QUESTIONS:  # in the questions' order: a later question's `unused` sees the earlier values
        if question.path in given:
            draft.put(question.path, question.value(given[question.path]))
    for question in QUESTIONS:
        _refuse_if_unused(draft, question, given)
    # Checked with the defaults of the questions not answered yet (a zone id needs its provider).
    probe = draft.copy()
    for question in QUESTIONS:
        if question.default is not None and not probe.has(question.path):
            probe.put(question.path, question.value(question.default))
    refused = [(question, issue) for question in QUESTIONS if question.path in given
               for issue in probe.problems_of(question.path)]  # fmt: skip
    if refused and ask is None:
        _refuse([issue for _, issue in refused], say)
    for question, issue in refused:
        say(f"--set {issue}")
        draft.drop(question.path)

    for question in QUESTIONS:
        if _refuse_if_unused(draft, question, given):
            if draft.problems_of(question.path):  # the starting stack's, no longer taken (a zone id, provider none)
                draft.drop(question.path)
        elif draft.has(question.path):
            continue
        elif ask is not None:
            ask_until_valid(draft, question, ask, say)
        elif question.default is not None:
            draft.put(question.path, question.value(question.default))
        elif _needed(draft, question):
            raise NewStackUsageError(f"{question.path}: no value: give it with --set {question.path}=<value>")

    for attempt in range(MAX_ASKS + 1):
        problems = draft.problems(source)
        askable = [question for question in QUESTIONS for issue in problems if on_field(issue.path, question.path)]
        if not problems:
            return
        if ask is None or len(askable) < len(problems) or attempt == MAX_ASKS:
            _refuse(problems, say)
        for issue in problems:
            say(str(issue))
        for question in dict.fromkeys(askable):
            ask_until_valid(draft, question, ask, say)


def _needed(draft: Draft, question: Question) -> bool:
    """Whether the stack needs a value the starting stack has not (administrator networks for a local lab: no)."""
    probe = draft.copy()
    probe.put(question.path, question.value(""))
    return bool(probe.problems_of(question.path))


def _refuse_if_unused(draft: Draft, question: Question, given: Mapping[str, str]) -> bool:
    """True when the stack does not use the question's value; a usage error when `--set` gave it."""
    reason = question.unused(draft)
    if reason is not None and question.path in given:
        raise NewStackUsageError(f"--set {question.path}: unused: {reason}: remove it")
    return reason is not None


def _refuse(problems: list[ConfigIssue], say: Callable[[str], None]) -> NoReturn:
    """Each problem once: the others as lines, the first as the error itself."""
    for issue in problems[1:]:
        say(str(issue))
    others = f" (and the {len(problems) - 1} other problem(s) above)" if len(problems) > 1 else ""
    raise NewStackError(f"{problems[0]}{others}")


def ask_until_valid(draft: Draft, question: Question, ask: Callable[[str], str], say: Callable[[str], None]) -> None:
    """Asks `question` until its field has no problem, each refusal said in one line (the field and the fix)."""
    prompt = question.prompt + (f" [{question.default}]" if question.default else "") + ": "
    for attempt in range(MAX_ASKS + 1):
        try:
            raw = ask(prompt)
        except EOFError:
            _end_prompt_line()
            raise NewStackAbortedError(question.path) from None
        except KeyboardInterrupt:
            _end_prompt_line()
            raise
        draft.put(question.path, question.value(raw.strip() or question.default or ""))
        refused = draft.problems_of(question.path)
        if not refused:
            if not draft.has(question.path):  # nothing, and nothing needed (no `adminCidrs: []` in the file)
                draft.drop(question.path)
            return
        if attempt == MAX_ASKS:
            _refuse(refused, say)
        for issue in refused:
            say(str(issue))


def _end_prompt_line() -> None:
    # The command line's prompt (on stderr) waits on its own line: what follows must not join it.
    print(file=sys.stderr, flush=True)
