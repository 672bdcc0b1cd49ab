"""Shared fixtures: the real program under Pulumi's mock engine, one stack file at a time.

`RecordingMocks` answers every lookup the program makes (AMI, availability zones, subnet) and
refuses any other; `RecordingMonitor` keeps each registration with its options (parent, protect,
retain_on_delete, provider). Tests build the program, then return
`declared(engine).apply(check)` so the check runs after every registration has completed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest

import program
from constellab.config import PlatformConfig
from constellab.settings import load_stack_file
from offline.engine import Engine, RecordingMocks, RecordingMonitor, Registration, configure, quiescent, reveal

__all__ = ["RecordingMocks", "RecordingMonitor"]

ROOT = Path(__file__).resolve().parent.parent
STACKS = ROOT / "stacks"
SHARED = ROOT.parent / "shared"
# Nothing in the tests may ask the EC2 metadata service (or any address off this machine) for credentials.
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

STACK_NAMES = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in STACKS.glob("Pulumi.*.yaml"))


def stack_file(name: str) -> Path:
    return STACKS / f"Pulumi.{name}.yaml"


def acme() -> PlatformConfig:
    """The acme-cloud stack's validated platform."""
    return load_stack_file(stack_file("acme-cloud")).platform


def program_secret(name: str):
    """A secret key of the stack (`constellab.settings.SECRET_KEYS`), by name, as `placeholder` takes it."""
    from constellab.settings import SECRET_KEYS

    return next(secret for secret in SECRET_KEYS if secret.name == name)


def run_ops(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m ops <args>` in its own process, from the project's folder, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "ops", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


# Answers to every question `ops new-stack` asks for a new customer, zeta.
NEW_STACK_ANSWERS = {
    "baseDomain": "zeta.constellab.app",
    "dns.zoneId": "0123456789abcdef0123456789abcdef",
    "adminCidrs": "198.51.100.0/24",
    "sshPublicKeys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk3d8mWq0v6cXhJr1p2Y5nE7tB9sLkQz4aG0uF3oD8P ops@zeta",
    "endpoints.spaceApiUrl": "https://api.zeta.constellab.space",
    "endpoints.spaceFrontUrl": "https://zeta.constellab.space",
}


@pytest.fixture
def stacks_copy(tmp_path: Path) -> Path:
    """A copy of stacks/ that a test may change."""
    copy = tmp_path / "stacks"
    shutil.copytree(STACKS, copy)
    return copy


@pytest.fixture
def engine_for() -> Callable[[str], Engine]:
    """Installs the mock engine for a shipped stack and returns it (call inside the test)."""
    return lambda name: configure(stack_file(name))


def declared(engine: Engine) -> pulumi.Output[list[Registration]]:
    """Runs the program for the engine's stack; resolves to every registration once all are done."""
    program.build(engine.stack, engine.settings)
    return quiescent().apply(lambda _: list(engine.registrations))


def of_type(registrations: list[Registration], token: str) -> list[Registration]:
    return [r for r in registrations if r.type == token]


def containers_of(registrations: list[Registration], server: str) -> dict[str, Registration]:
    """The Docker containers of one server, by container name."""
    return {
        r.inputs["name"]: r
        for r in of_type(registrations, "docker:index/container:Container")
        if r.name.split("-host-containers-")[0].endswith(f"-{server}")
    }


def env_of(container: Registration) -> dict[str, Any]:
    """A container's environment as a dict (secret values revealed)."""
    return dict(entry.split("=", 1) for entry in reveal(container.inputs.get("envs", [])))


def networks_of(container: Registration) -> set[str]:
    return {network["name"] for network in container.inputs.get("networksAdvanced", [])}


def tool(name: str) -> str:
    """A third-party program on PATH or in this virtualenv; skipped here if absent, a failure in CI."""
    venv_bin = ROOT / ".venv" / "bin" / name
    found = shutil.which(name) or (str(venv_bin) if venv_bin.exists() else None)
    if found is None:
        missing(f"{name} is not installed (./run test installs it)")
    return str(found)


def missing(reason: str) -> None:
    """Skips a check whose tool or file is missing, but fails in CI, where everything must be there."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run this check")
    pytest.skip(reason)


UNGROUPED = pytest.StashKey[str]()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fails the live tests, before they start, where `--dist loadgroup` is not honoured.

    pytest-xdist keeps a group in one worker by appending `@<group>` to its tests' node ids; a pytest that
    ignores that change (9.2 does) would let two workers bring up the same container names on the one
    Docker engine, and the tests would break each other at random.
    """
    if getattr(config.option, "loadgroup", False):
        for item in items:
            if item.get_closest_marker("xdist_group") and "@" not in item.nodeid:
                item.stash[UNGROUPED] = (
                    f"pytest {pytest.__version__} ignores pytest-xdist's `--dist loadgroup`: this test would share"
                    " the Docker engine with another worker; install the pytest requirements-dev.txt pins"
                )


def pytest_runtest_setup(item: pytest.Item) -> None:
    if UNGROUPED in item.stash:
        pytest.fail(item.stash[UNGROUPED], pytrace=False)


def without_secrets(stack: str, folder: Path) -> Path:
    """A shipped stack's file, written into `folder` as `ops new-stack` leaves it: no secret set yet."""
    import yaml

    document = yaml.safe_load(stack_file(stack).read_text())
    document["config"] = {
        key: value
        for key, value in document["config"].items()
        if not (isinstance(value, dict) and ("secure" in value or all("secure" in str(v) for v in value.values())))
    }
    path = folder / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


BROKEN_PLATFORM = "config:\n  constellab:platform:\n    customer: Bad\n"
"""A stack file whose platform is wrong in several ways (customer not a DNS label, required fields missing)."""
