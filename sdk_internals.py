"""Every part of the Pulumi Python SDK this project uses beyond its public API, in one place.

The public API (`pulumi.Output`, resources, `pulumi.Config`, `pulumi.runtime.set_mocks`, `pulumi.runtime.test`,
`pulumi.dynamic`) covers the program itself. Three things need the SDK's internals:

- the program's config check lists every key the engine handed over (a misspelled key is named), and asks
  whether each secret is stored as one (`pulumi.Config` reads values, never lists keys nor says how they
  were stored);
- the offline engine (`offline.engine`) records what the mock engine would throw away (inputs and outputs
  as the engine sees them, secrets still wrapped), runs several stacks in one process, and waits for every
  registration;
- a dynamic provider (the power gates) recognises the value the engine sends for "not known yet".

`tests/test_sdk_internals.py` checks each of them against the installed SDK: an upgrade that moves or
changes one fails there, naming it, instead of somewhere deep in a preview.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Iterable, Mapping
from concurrent.futures import Executor
from typing import Any, TypeVar

from pulumi import output as _output
from pulumi.runtime import config as _config
from pulumi.runtime import resource as _resource
from pulumi.runtime import rpc as _rpc
from pulumi.runtime import settings as _settings
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs
from pulumi.runtime.proto import source_pb2 as _source_pb2
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

__all__ = ["MockCallArgs", "MockMonitor", "MockResourceArgs"]

T = TypeVar("T")

UNKNOWN = _rpc.UNKNOWN
"""What the engine sends (and a mock may answer) for a value not known until apply."""
Unknown = _output.Unknown
"""How the SDK holds such a value inside a preview's inputs."""
SIGNATURE_KEY: str = _rpc._special_sig_key
SECRET_SIGNATURE: str = _rpc._special_secret_sig
"""A serialized secret is `{SIGNATURE_KEY: SECRET_SIGNATURE, "value": ...}`."""


# --- The engine's config, as the program receives it -------------------------------------------------


def config_keys() -> set[str]:
    """Every config key the engine handed the program (`project:key`)."""
    return set(_config.CONFIG.get()) | set(_config.get_config_env())


def config_value(key: str) -> Any:
    return _config.get_config(key)


def config_is_secret(key: str) -> bool:
    return bool(_config.is_config_secret(key))


def set_config(values: Mapping[str, str], secret_keys: Iterable[str]) -> None:
    """Hands the program a stack's config, as the CLI does (the offline engine and the tests)."""
    _config.set_all_config(dict(values), list(secret_keys))


# --- Values on the wire ---------------------------------------------------------------------------------


def serialize(properties: Mapping[str, Any]) -> Any:
    """A property map as the engine receives it (outputs resolved, secrets wrapped)."""
    return _sync_await(_rpc.serialize_properties(dict(properties), {}))


def deserialize(struct: Any) -> dict[str, Any]:
    """A protobuf property map as plain values, secrets wrapped (`SECRET_SIGNATURE`)."""
    return dict(_rpc.deserialize_properties(struct))


def wrap_secret(value: Any) -> Any:
    """A value as the engine marks a secret on the wire."""
    return _rpc.wrap_rpc_secret(value)


# --- The runtime the offline engine drives -------------------------------------------------------------


def reset_root_stack() -> None:
    """Forgets the root stack resource, so the next run registers a fresh one (several stacks, one process)."""
    _settings.ROOT.set(None)


def skip_stack_traces() -> None:
    """Registrations without the source position the SDK captures for each (~40% of a mock run, unused)."""
    _resource._get_stack_trace = _empty_stack_trace


def _empty_stack_trace() -> Any:
    return _source_pb2.StackTrace()


def use_executor(executor: Executor) -> None:
    """Where the SDK runs its RPCs: the offline engine answers them in the calling thread."""
    _ensure_event_loop().set_default_executor(executor)


def run_until_complete(awaitable: Awaitable[T]) -> T:
    return _sync_await(awaitable)


def pending_registrations() -> list[Awaitable[Any]]:
    """The RPCs (registrations) the SDK still waits for; the list it awaits, popped by the caller."""
    rpcs: list[Awaitable[Any]] = _settings.SETTINGS.rpc_manager.rpcs
    return rpcs


def root_stack_variable() -> contextvars.ContextVar[Any]:
    """The context variable holding the root stack resource (checked by the tests)."""
    root: contextvars.ContextVar[Any] = _settings.ROOT
    return root
