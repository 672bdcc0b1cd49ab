"""`ops render-proxy`: a server's Traefik files, for review and for air-gapped installs."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from constellab import traefik
from constellab.config import ManualCertificates, PlatformConfig
from constellab.naming import Server, role_of, server_host

# Where each secret value comes from with --show-secrets: the stack's secret key, or an environment variable.
SECRET_SOURCES = {
    "codelab-htpasswd": ("codelabPassword", "CONSTELLAB_CODELAB_PASSWORD"),
    "cloudflare-token": ("cloudflareApiToken", "CONSTELLAB_CLOUDFLARE_API_TOKEN"),
    "tls-private-key": ("tlsPrivateKeys.{server}", "CONSTELLAB_TLS_PRIVATE_KEY"),
}


class SecretUnavailableError(Exception):
    """A secret asked for with --show-secrets could not be read."""


@dataclass(frozen=True)
class RenderedFile:
    relative_path: str
    content: str
    secret: bool


def relative_path(container_path: str) -> str:
    """`/etc/traefik/dynamic/core.yml` -> `dynamic/core.yml`; `/run/secrets/x` -> `secrets/x`."""
    for prefix, replacement in (("/etc/traefik/", ""), ("/run/secrets/", "secrets/")):
        if container_path.startswith(prefix):
            return replacement + container_path[len(prefix) :]
    return container_path.lstrip("/")


def placeholder(value_name: str, server: str) -> str:
    key, _ = SECRET_SOURCES[value_name]
    return f"<secret {value_name}: from constellab:{key.format(server=server)}; --show-secrets writes it>\n"


def render(
    platform: PlatformConfig,
    server: Server,
    read_secret: Callable[[str, str], str] | None = None,
) -> list[RenderedFile]:
    """The server's Traefik files; secrets are placeholders unless `read_secret(key, env_var)` is given."""
    mode = platform.certificate_mode(server)
    role = role_of(server)
    dev = role != "space" and getattr(server, "dev_environment", False)
    rendered = []
    for proxy in traefik.proxy_files(
        server_host(server.name, platform.base_domain), role, dev, mode, platform.acme_email
    ):
        content = proxy.content
        if proxy.value == "tls-certificate":
            assert isinstance(server.certificates, ManualCertificates)
            content = server.certificates.certificate_chain
        elif proxy.value is not None:
            if read_secret is None:
                content = placeholder(proxy.value, server.name)
            else:
                key, variable = SECRET_SOURCES[proxy.value]
                value = read_secret(key.format(server=server.name), variable)
                if proxy.value == "codelab-htpasswd":
                    salt = traefik.bcrypt_salt("".join(secrets.choice("./0123456789abcdefABCDEF") for _ in range(22)))
                    value = traefik.htpasswd(traefik.CODELAB_USER, value, salt)
                content = value
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


def write(files: list[RenderedFile], out: Path) -> list[Path]:
    """Writes the files under `out`; secret files are readable by their owner only."""
    written = []
    for file in files:
        target = out / file.relative_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(file.content, encoding="utf-8")
        target.chmod(0o600 if file.secret else 0o644)
        written.append(target)
    return written
