"""`ops render-proxy`: a server's Traefik files, for review and for air-gapped installs."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from constellab import topology, traefik
from constellab.config import ManualCertificates, PlatformConfig
from constellab.naming import Server
from constellab.values import Configured
from ops.files import why_no_files_can_go_in

# Where each secret value comes from with --show-secrets: the stack's secret key, or an environment variable.
SECRET_SOURCES = {
    Configured.ACME_DNS_TOKEN: ("acmeDnsApiToken", "CONSTELLAB_ACME_DNS_API_TOKEN"),
    Configured.TLS_PRIVATE_KEY: ("tlsPrivateKeys.{server}", "CONSTELLAB_TLS_PRIVATE_KEY"),
}


class SecretUnavailableError(Exception):
    """A secret asked for with --show-secrets could not be read."""


@dataclass(frozen=True)
class RenderedFile:
    """One proxy file as it is written under --out (a secret one gets mode 0600)."""

    relative_path: str
    content: str
    secret: bool


def relative_path(container_path: str) -> str:
    """`/etc/traefik/dynamic/core.yml` -> `dynamic/core.yml`; `/run/secrets/x` -> `secrets/x` (and `/certs/`)."""
    for prefix, replacement in (("/etc/traefik/", ""), ("/run/secrets/", "secrets/"), ("/certs/", "certs/")):
        if container_path.startswith(prefix):
            return replacement + container_path[len(prefix) :]
    return container_path.lstrip("/")


def placeholder(value_name: Configured, server: str) -> str:
    key, _ = SECRET_SOURCES[value_name]
    return f"<secret {value_name}: from constellab:{key.format(server=server)}; --show-secrets writes it>\n"


def render(
    platform: PlatformConfig,
    server: Server,
    read_secret: Callable[[str, str], str] | None = None,
) -> list[RenderedFile]:
    """The server's Traefik files; secrets are placeholders unless `read_secret(key, env_var)` is given."""
    rendered = []
    for proxy in traefik.proxy_files(topology.proxy_settings(platform, server)):
        content = proxy.content
        if proxy.value == Configured.TLS_CERTIFICATE:
            assert isinstance(server.certificates, ManualCertificates)
            content = server.certificates.certificate_chain
        elif proxy.value is not None:
            if read_secret is None:
                content = placeholder(proxy.value, server.name)
            else:
                key, variable = SECRET_SOURCES[proxy.value]
                content = read_secret(key.format(server=server.name), variable)
        rendered.append(RenderedFile(relative_path(proxy.path), content, proxy.secret))
    return rendered


def secret_reader(stack: str, project_dir: Path) -> Callable[[str, str], str]:
    """Reads a secret from its environment variable, else from `pulumi config get` when the CLI is there."""

    def read(key: str, variable: str) -> str:
        if variable in os.environ:
            return os.environ[variable]
        pulumi = shutil.which("pulumi")
        if pulumi is None:
            raise SecretUnavailableError(
                f"--show-secrets needs constellab:{key}: set {variable}, "
                "or install the Pulumi CLI to read it from the stack"
            )
        path_flag = ["--path"] if "." in key else []
        result = subprocess.run(
            [pulumi, "config", "get", *path_flag, f"constellab:{key}", "--stack", stack],
            cwd=project_dir,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            message = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "pulumi config get failed"
            raise SecretUnavailableError(f"cannot read constellab:{key} of stack {stack}: {message}")
        return result.stdout.rstrip("\n")

    return read


class OutputError(Exception):
    """--out cannot take the files (empty, under a file, a directory where a file goes...): one line, exit 2."""


def output_directory(argument: str) -> Path:
    """The --out argument as a directory; refuses an empty one, which would mean the current directory."""
    if not argument.strip():
        raise OutputError("--out needs a directory, e.g. --out ./traefik-hub (an empty one is never read as '.')")
    out = Path(argument)
    problem = why_no_files_can_go_in(out)
    if problem:
        raise OutputError(f"--out {out}: {problem}: choose another directory")
    return out


RENDERED = "rendered"
"""The default --out, `rendered/<stack>/<server>` in the project: ignored by git (.gitignore), so the files
written with --show-secrets are never committed by accident."""


def default_output(root: Path, stack: str, server: str) -> Path:
    return root / RENDERED / stack / server


def secrets_could_be_committed(files: list[RenderedFile], out: Path, root: Path) -> str | None:
    """Why writing the secret files under `out` is refused without --force: they would land inside the
    repository at `root` where git does not ignore them (or git cannot tell). None when they cannot."""
    from ops import git

    secret_targets = [target for file, target in zip(files, check_targets(files, out), strict=True) if file.secret]
    inside = [target for target in secret_targets if target.resolve().is_relative_to(root.resolve())]
    if not inside:
        return None
    exposed = git.not_ignored(root, inside)
    if exposed == []:
        return None
    reason = "git does not ignore them" if exposed else "git cannot tell whether it ignores them"
    return (
        f"--out {out}: the real secrets would be written inside the repository, and {reason}: "
        f"leave out --out (the default, {RENDERED}/<stack>/<server>, is ignored by git), write outside the "
        "repository, or add --force"
    )


def check_targets(files: list[RenderedFile], out: Path) -> list[Path]:
    """Where each file goes under `out`; refuses, before anything is written, any target that cannot be."""
    targets = []
    for file in files:
        relative = Path(file.relative_path)
        if relative.is_absolute() or ".." in relative.parts:
            raise OutputError(f"{file.relative_path}: a rendered file must stay under --out")
        target = out / relative
        problem = why_no_files_can_go_in(target.parent)
        if problem is None and target.is_dir():
            problem = f"{target} is a directory, where the file {file.relative_path} goes"
        if problem:
            raise OutputError(f"--out {out}: {problem}: remove it or choose another --out (nothing was written)")
        targets.append(target)
    return targets


def _make_directories(directory: Path) -> list[Path]:
    """Creates `directory` and its missing parents; returns those it created, outermost first."""
    missing = []
    while not directory.is_dir():
        missing.append(directory)
        directory = directory.parent
    for created in reversed(missing):
        created.mkdir()
    return list(reversed(missing))


def _staged_copy(file: RenderedFile, target: Path) -> Path:
    """The file's content in a temporary file beside `target`, with its final mode, ready to be renamed."""
    # mkstemp creates the file 0600: a secret is never readable by others, not even before the chmod.
    descriptor, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(file.content)
            stream.flush()
            os.fsync(stream.fileno())
            os.fchmod(stream.fileno(), 0o600 if file.secret else 0o644)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def write(files: list[RenderedFile], out: Path) -> list[Path]:
    """Writes the files under `out`; secret files are readable by their owner only, from their creation on.

    Every target is checked before anything is created. Each file is written to a temporary file
    beside it, and all are renamed into place only once every one is written: a failure while
    writing (a full disk) leaves no partial file, and removes the temporary files and new directories.
    """
    targets = check_targets(files, out)
    created: list[Path] = []
    staged: list[tuple[Path, Path]] = []
    try:
        for file, target in zip(files, targets, strict=True):
            created += _make_directories(target.parent)
            staged.append((_staged_copy(file, target), target))
        for temporary, target in staged:
            os.replace(temporary, target)
    except BaseException as error:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        for directory in reversed(created):
            with contextlib.suppress(OSError):  # not empty: something else is in it now, leave it
                directory.rmdir()
        if isinstance(error, OSError):
            where = f"{error.filename}: " if error.filename else ""
            raise OutputError(f"--out {out}: cannot write {where}{error.strerror or error}") from error
        raise
    return targets
