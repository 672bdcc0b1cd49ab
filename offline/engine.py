"""Runs the real Pulumi program under Pulumi's mock engine: no CLI, no account, no network.

`RecordingMocks` answers every lookup the program makes (and refuses any other, so a new lookup is
noticed), and computes the outputs a provider would (ids, ARNs, addresses, generated passwords).
`RecordingMonitor` keeps every registration with its options (parent, protect, retain_on_delete,
provider, dependencies), which the mock engine would otherwise throw away.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format

import sdk_internals
from constellab.settings import (
    PLATFORM_KEY,
    SECRET_KEYS,
    SecretKey,
    StackSettings,
    load_stack_file,
    required_members,
    stack_name_of,
)
from offline.mocks import MOCK_ACCOUNT, MOCK_REGION_ZONES, RecordingMocks, UnknownLookupError
from sdk_internals import MockMonitor

__all__ = ["MOCK_ACCOUNT", "MOCK_REGION_ZONES", "RecordingMocks", "UnknownLookupError"]

PROJECT = "constellab"
SECRET_SIG = sdk_internals.SECRET_SIGNATURE
SECRET_MASK = "[secret]"


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(sdk_internals.SIGNATURE_KEY) == SECRET_SIG


def reveal(value: Any) -> Any:
    """The value with secret wrappers removed (for checks that need the plain value)."""
    if is_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def mask(value: Any) -> Any:
    """The value with every secret replaced by `[secret]`."""
    if is_secret(value):
        return SECRET_MASK
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


@dataclass
class Registration:
    """One resource as the engine saw it: inputs with secrets wrapped, and its options."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    id: str | None
    provider: str
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    ignore_changes: list[str]
    dependencies: list[str]
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    aliases: list[dict[str, Any]] = field(default_factory=list)
    """The resource's aliases as the engine receives them (a URN, or a spec: name, type, parent...)."""
    input_dependencies: dict[str, list[str]] = field(default_factory=dict)
    """Per input, the URNs of the resources whose outputs it takes (the engine's `propertyDependencies`)."""
    replace_on_changes: list[str] = field(default_factory=list)
    """The `replace_on_changes` resource option: inputs the program itself declares replace-forcing."""
    alias_urns: list[str] = field(default_factory=list)
    """The URNs the aliases stand for: what this resource was called in the state before."""


class RecordingMonitor(MockMonitor):
    """The mock monitor, keeping each registration's options for the checks."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs = sdk_internals.deserialize(request.object)
        outputs = sdk_internals.deserialize(response.object) if response.object else {}
        aliases = [json_format.MessageToDict(alias) for alias in request.aliases]
        self.registrations.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=request.custom,
                id=response.id or None,
                provider=request.provider,
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                delete_before_replace=bool(request.deleteBeforeReplace),
                ignore_changes=list(request.ignoreChanges),
                dependencies=list(request.dependencies),
                inputs=inputs,
                outputs=outputs,
                aliases=aliases,
                alias_urns=[self._alias_urn(alias, request) for alias in aliases],
                input_dependencies={
                    key: sorted(found.urns) for key, found in request.propertyDependencies.items() if found.urns
                },
                replace_on_changes=list(request.replaceOnChanges),
            )
        )
        return response

    def _alias_urn(self, alias: dict[str, Any], request: Any) -> str:
        """The URN an alias names, built the way this engine builds URNs (`MockMonitor.make_urn`)."""
        if "urn" in alias:
            return str(alias["urn"])
        spec = alias.get("spec", {})
        parent = "" if spec.get("noParent") else spec.get("parentUrn", request.parent)
        return self.make_urn(parent, spec.get("type") or request.type, spec.get("name") or request.name)


class InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs each submitted call at once, in the calling thread.

    The SDK hands every RPC to a thread pool because a real engine answers over gRPC. The mock monitor
    answers in-process, so a hand-off to another thread only adds switching, and leaves threads behind
    that make forking the process for parallel previews unsafe.
    """

    def __init__(self) -> None:
        super().__init__(max_workers=1)  # never starts a thread: `submit` does not use the pool

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # handed to the awaiting coroutine, as a pool would
            future.set_exception(error)
        return future


def quiescent() -> pulumi.Output[None]:
    """An Output that resolves once every resource registration so far has completed."""

    async def wait() -> None:
        pending = sdk_internals.pending_registrations()
        while pending:
            await asyncio.sleep(0)
            if pending:
                await pending.pop()

    return pulumi.Output.from_input(wait())


@dataclass
class Engine:
    """A mock engine set up for one stack: its mocks, its monitor, its settings."""

    stack: str
    settings: StackSettings
    mocks: RecordingMocks
    monitor: RecordingMonitor

    @property
    def registrations(self) -> list[Registration]:
        return self.monitor.registrations


def placeholder(secret: SecretKey, member: str | None = None) -> str:
    """The stand-in value of a secret offline (secrets are never decrypted here)."""
    return f"offline-placeholder-{secret.name}" + (f"-{member}" if member else "")


def configure(
    stack_file: Path,
    settings: StackSettings | None = None,
    renewed: frozenset[tuple[str, str]] = frozenset(),
    recomputed: frozenset[tuple[str, str]] = frozenset(),
    preview: bool = False,
) -> Engine:
    """Installs the mock engine and the stack's config, exactly as the CLI would hand it over.

    Secret values are not decrypted: each secret key the stack needs gets a placeholder, marked secret, set or
    not yet set. `renewed`, `recomputed`: see `RecordingMocks`; `preview`: run as `pulumi preview` does
    (unknown values stay unknown).
    """
    settings = settings or load_stack_file(stack_file, require_secrets=False)
    stack = stack_name_of(stack_file)
    mocks = RecordingMocks(region=settings.aws_region or "eu-west-3", renewed=renewed, recomputed=recomputed)
    monitor = RecordingMonitor(mocks)
    # A fresh root stack per run, so several stacks can be previewed in one process.
    sdk_internals.reset_root_stack()
    # Source positions only serve the engine's diagnostics; capturing one per resource is ~40% of a mock run.
    sdk_internals.skip_stack_traces()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    sdk_internals.use_executor(InlineExecutor())
    document = settings.platform.model_dump(mode="json", by_alias=True)
    config: dict[str, str] = {PLATFORM_KEY: json.dumps(document)}
    if settings.aws_region:
        config["aws:region"] = settings.aws_region
    secret_keys = []
    members = required_members(document)
    for secret in SECRET_KEYS:
        if secret not in settings.secret_keys:
            continue
        secret_keys.append(secret.key)
        if secret.is_map:
            config[secret.key] = json.dumps({name: placeholder(secret, name) for name in members[secret]})
        else:
            config[secret.key] = placeholder(secret)
    sdk_internals.set_config(config, secret_keys)
    return Engine(stack=stack, settings=settings, mocks=mocks, monitor=monitor)


@dataclass
class OfflineRun:
    """What an offline run of the program declared."""

    stack: str
    settings: StackSettings
    registrations: list[Registration]
    outputs: dict[str, Any] = field(default_factory=dict)
    """Stack outputs with secrets still wrapped (see `mask`, `reveal`)."""


def run_program(
    stack_file: Path,
    build: Callable[[str, StackSettings], object] | None = None,
    renewed: frozenset[tuple[str, str]] = frozenset(),
    recomputed: frozenset[tuple[str, str]] = frozenset(),
    preview: bool = False,
) -> OfflineRun:
    """Runs the program for one stack file under the mock engine and returns what it declared.

    `renewed`, `recomputed`: resources (type, name) whose provider-computed values are unknown (`RecordingMocks`),
    in a run that is a preview (`preview`).
    """
    import program

    engine = configure(stack_file, renewed=renewed, recomputed=recomputed, preview=preview)
    builder = build or program.build

    def body() -> pulumi.Output[None]:
        builder(engine.stack, engine.settings)
        return quiescent()

    pulumi.runtime.test(body)()
    root = pulumi.runtime.get_root_resource()
    exported = getattr(root, "outputs", {}) if root is not None else {}
    outputs = sdk_internals.deserialize(sdk_internals.serialize(exported))
    return OfflineRun(stack=engine.stack, settings=engine.settings, registrations=engine.registrations, outputs=outputs)
