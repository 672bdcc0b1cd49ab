"""The container set of a server, as data: what runs, on which networks, with which environment.

This mirrors Constellab's reference lab host (its Docker Compose set-up) and is rendered into Docker resources
by `components.containers`. Values that only exist at deployment time (generated passwords, bucket
names, configured secrets) appear as `Ref`s and are filled in by the component.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from constellab import naming, traefik
from constellab.config import Endpoints, Images, PlatformConfig
from constellab.naming import Server

NetworkName = Literal["manager", "prod", "dev"]
NETWORKS: tuple[NetworkName, ...] = ("manager", "prod", "dev")
DOCKER_SOCKET = "/var/run/docker.sock"
MANAGER_SUBNET = "172.30.253.0/24"
"""Fixed subnet of a cloud server's manager network: the only one allowed to reach the instance role."""
DB_PORT = 3306
AWS_CREDENTIALS_PATH = "/run/secrets/aws_credentials"
APP_PORT = 8510


@dataclass(frozen=True)
class Ref:
    """A value known only at deployment: a generated password, a configured secret, a bucket name."""

    name: str
    secret: bool = True


EnvValue = str | Ref


@dataclass(frozen=True)
class Mount:
    """A host folder (under the server's data root, or the Docker socket) mounted into a container."""

    host_path: str
    container_path: str
    read_only: bool = False


@dataclass(frozen=True)
class File:
    """A file written into the container before it starts (configuration, or a secret with mode 0400)."""

    path: str
    content: str | Ref
    mode: int = 0o444


@dataclass(frozen=True)
class Port:
    """A container port published on the host (the proxy's 80 and 443, Codelab's SSH on 2222)."""

    internal: int
    external: int


@dataclass(frozen=True)
class ContainerSpec:
    """One container of a server."""

    role: str
    """Container name on the host and DNS name on its networks."""
    image: str
    networks: tuple[NetworkName, ...]
    env: dict[str, EnvValue] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()
    files: tuple[File, ...] = ()
    ports: tuple[Port, ...] = ()
    command: tuple[str, ...] = ()

    @property
    def refs(self) -> set[Ref]:
        found = {value for value in self.env.values() if isinstance(value, Ref)}
        found |= {file.content for file in self.files if isinstance(file.content, Ref)}
        return found


@dataclass(frozen=True)
class ServerContext:
    """What the topology needs to know about one server."""

    customer: str
    name: str
    role: Literal["lab", "hub", "space"]
    host: str
    data_root: str
    environment: str
    """Where the server runs: cloud, onPrem or local (LAB_ENVIRONMENT)."""
    images: Images
    endpoints: Endpoints
    dev_environment: bool
    biota: bool
    tls: traefik.TlsMode
    acme_email: str | None = None
    aws_credentials: bool = False
    """True for on-prem servers: the lab manager gets an access key instead of an instance role."""
    has_data_lake: bool = False
    has_backups: bool = True
    """False for local servers, which have no AWS account to back up to."""


# Secrets that come from the stack's secret config rather than being generated.
CONFIGURED_SECRETS = frozenset(
    {"space-api-key", "community-api-key", "codelab-password", "cloudflare-token", "tls-private-key"}
)
# Secrets derived by the server's host from configured ones (Codelab's htpasswd from its password).
DERIVED_SECRETS = frozenset({"codelab-htpasswd"})


def is_database_secret(name: str) -> bool:
    """Whether a generated secret is a database's password (which its data depends on)."""
    return name.startswith("db-")


def generated_secret_names(specs: list[ContainerSpec]) -> list[str]:
    """Passwords and keys to generate for a server: every secret `Ref` not configured elsewhere."""
    names = {
        ref.name
        for spec in specs
        for ref in spec.refs
        if ref.secret and ref.name not in CONFIGURED_SECRETS | DERIVED_SECRETS and not ref.name.startswith("aws-")
    }
    return sorted(names)


def _database(
    role: str, ctx: ServerContext, networks: tuple[NetworkName, ...], data: str | None, *extra: str
) -> ContainerSpec:
    mounts = (Mount(f"{ctx.data_root}/{data}", "/var/lib/mysql"),) if data else ()
    return ContainerSpec(
        role=role,
        image=ctx.images.database,
        networks=networks,
        env={
            "MARIADB_DATABASE": "gws_core" if role != "db-biota" else "gws_biota",
            "MARIADB_USER": "gws",
            "MARIADB_PASSWORD_FILE": "/run/secrets/db_password",
            "MARIADB_ROOT_PASSWORD_FILE": "/run/secrets/db_root_password",
        },
        files=(
            File("/run/secrets/db_password", Ref(f"{role}-password"), 0o400),
            File("/run/secrets/db_root_password", Ref(f"{role}-root-password"), 0o400),
        ),
        mounts=mounts,
        command=("--max_allowed_packet=256M", *extra),
    )


def _db_env(prefix: str, role: str, name: str) -> dict[str, EnvValue]:
    return {
        f"{prefix}_HOST": role,
        f"{prefix}_USER": "gws",
        f"{prefix}_PASSWORD": Ref(f"{role}-password"),
        f"{prefix}_NAME": name,
        f"{prefix}_PORT": str(DB_PORT),
    }


def _traefik(ctx: ServerContext, networks: tuple[NetworkName, ...]) -> ContainerSpec:
    files = [
        File(proxy.path, Ref(proxy.value, secret=proxy.secret) if proxy.value else proxy.content, proxy.mode)
        for proxy in traefik.proxy_files(ctx.host, ctx.role, ctx.dev_environment, ctx.tls, ctx.acme_email)
    ]
    env: dict[str, EnvValue] = {}
    if ctx.tls == "acme":
        env["CF_DNS_API_TOKEN_FILE"] = traefik.CLOUDFLARE_TOKEN_FILE
    return ContainerSpec(
        role="traefik",
        image=ctx.images.traefik,
        networks=networks,
        env=env,
        mounts=(
            Mount(DOCKER_SOCKET, DOCKER_SOCKET, read_only=True),
            Mount(f"{ctx.data_root}/traefik/acme", traefik.ACME_DIR),
        ),
        files=tuple(files),
        ports=(Port(80, 80), Port(443, 443)),
    )


def _lab_env(ctx: ServerContext, mode: Literal["prod", "dev"]) -> dict[str, EnvValue]:
    host = ctx.host
    env: dict[str, EnvValue] = {
        "LAB_ID": f"{ctx.customer}-{ctx.name}",
        "LAB_NAME": ctx.name,
        "LAB_MODE": mode,
        "LAB_ENVIRONMENT": ctx.environment,
        "LAB_PROD_API_URL": f"https://glab.{host}",
        "LAB_DEV_API_URL": f"https://glab-dev.{host}",
        "LAB_MANAGER_API_URL": f"https://lab-manager.{host}",
        "SPACE_API_URL": ctx.endpoints.space_api_url,
        "SPACE_FRONT_URL": ctx.endpoints.space_front_url,
        "SPACE_API_KEY": Ref("space-api-key"),
        "FRONT_URL": f"https://lab.{host}" if mode == "prod" else f"https://dev-lab.{host}",
        "VIRTUAL_HOST": f"glab.{host}" if mode == "prod" else f"glab-dev.{host}",
        "COMMUNITY_API_URL": ctx.endpoints.community_api_url,
        "COMMUNITY_FRONT_URL": ctx.endpoints.community_front_url,
        "COMMUNITY_API_KEY": Ref("community-api-key"),
        "APP_EXTERNAL_PORT": str(APP_PORT),
        "APP_SUB_DOMAIN": "app" if mode == "prod" else "appdev",
    }
    env |= _db_env("GWS_CORE_DB", "db-prod" if mode == "prod" else "db-dev", "gws_core")
    if ctx.biota:
        env |= _db_env("GWS_BIOTA_DB", "db-biota", "gws_biota")
    if mode == "dev":
        env |= _db_env("GWS_TEST_DB", "db-test", "gws_core")
    return env


def lab_containers(ctx: ServerContext) -> list[ContainerSpec]:
    """The containers of a data lab or data hub, with parity to Constellab's lab host."""
    root = ctx.data_root
    networks: tuple[NetworkName, ...] = NETWORKS if ctx.dev_environment else ("manager", "prod")
    manager_env: dict[str, EnvValue] = {
        "VIRTUAL_HOST": f"lab-manager.{ctx.host}",
        "LAB_MANAGER_API_KEY": Ref("lab-manager-api-key"),
        "ENVIRONMENT_PROFILE": "prod",
    }
    if ctx.has_backups:
        manager_env["BACKUP_S3_BUCKET"] = Ref("backup-bucket", secret=False)
        manager_env["AWS_REGION"] = Ref("aws-region", secret=False)
    if ctx.has_data_lake:
        manager_env["DATA_LAKE_S3_BUCKET"] = Ref("data-lake-bucket", secret=False)
        manager_env["DATA_LAKE_S3_PREFIX"] = Ref("data-lake-prefix", secret=False)
    manager_files: tuple[File, ...] = ()
    if ctx.aws_credentials:
        # Every AWS SDK reads this file; keys never sit in the container's environment.
        manager_env["AWS_SHARED_CREDENTIALS_FILE"] = AWS_CREDENTIALS_PATH
        manager_files = (File(AWS_CREDENTIALS_PATH, Ref("aws-credentials-file"), 0o400),)

    specs = [
        _traefik(ctx, networks),
        ContainerSpec(
            role="lab-manager",
            image=ctx.images.lab_manager,
            networks=("manager",),
            env=manager_env,
            files=manager_files,
            mounts=(Mount(DOCKER_SOCKET, DOCKER_SOCKET), Mount(root, "/app")),
        ),
        ContainerSpec(
            role="front",
            image=ctx.images.front,
            networks=("prod",),
            env={
                "VIRTUAL_HOST": f"lab.{ctx.host}",
                "LAB_PROD_API_URL": f"https://glab.{ctx.host}",
                "LAB_DEV_API_URL": f"https://glab-dev.{ctx.host}",
            },
        ),
        ContainerSpec(
            role="glab",
            image=ctx.images.glab,
            networks=("prod",),
            env=_lab_env(ctx, "prod"),
            mounts=(
                Mount(f"{root}/prod/lab", "/lab/user"),
                Mount(f"{root}/prod/data", "/data"),
                Mount(f"{root}/prod/settings", "/conf"),
            ),
        ),
        _database("db-prod", ctx, ("prod",), "gws_db/gws_core/prod"),
    ]
    if ctx.dev_environment:
        specs += [
            ContainerSpec(
                role="codelab",
                image=ctx.images.codelab,
                networks=("dev",),
                env=_lab_env(ctx, "dev"),
                mounts=(
                    Mount(f"{root}/dev/lab", "/lab/user"),
                    Mount(f"{root}/dev/data", "/data"),
                    Mount(f"{root}/dev/.ssh", "/root/.ssh"),
                    Mount(f"{root}/dev/etc-ssh", "/etc/ssh"),
                ),
                ports=(Port(22, 2222),),
            ),
            _database("db-dev", ctx, ("dev",), "gws_db/gws_core/dev"),
            _database("db-test", ctx, ("dev",), None),
        ]
    if ctx.biota:
        biota_networks: tuple[NetworkName, ...] = ("prod", "dev") if ctx.dev_environment else ("prod",)
        # read_only refuses writes from every account without SUPER: prod and dev can only read.
        specs.append(_database("db-biota", ctx, biota_networks, "gws_db/gws_biota", "--read-only=1"))
    return specs


def space_containers(ctx: ServerContext) -> list[ContainerSpec]:
    """The collaborative space: its application and database behind Traefik."""
    assert ctx.images.space is not None, "validated: a space has an image"
    env: dict[str, EnvValue] = {
        "VIRTUAL_HOST": ctx.host,
        "SPACE_STORAGE_S3_BUCKET": Ref("space-bucket", secret=False),
        "SPACE_STORAGE_S3_PREFIX": Ref("space-prefix", secret=False),
        "AWS_REGION": Ref("aws-region", secret=False),
        "COMMUNITY_API_URL": ctx.endpoints.community_api_url,
        "COMMUNITY_API_KEY": Ref("community-api-key"),
    }
    env |= _db_env("SPACE_DB", "db-space", "gws_core")
    return [
        _traefik(ctx, ("manager", "prod")),
        ContainerSpec(
            role="space",
            image=ctx.images.space,
            networks=("prod",),
            env=env,
            mounts=(Mount(f"{ctx.data_root}/space/data", "/data"),),
        ),
        _database("db-space", ctx, ("prod",), "gws_db/space"),
    ]


def server_context(platform: PlatformConfig, server: Server) -> ServerContext:
    """The topology's view of one server of a validated platform."""
    placement = server.placement
    environment = {"cloud": "cloud", "onPrem": "onPrem", "local": "local"}[placement.kind]
    tls = platform.certificate_mode(server)
    role = naming.role_of(server)
    return ServerContext(
        customer=platform.customer,
        name=server.name,
        role=role,
        host=naming.server_host(server.name, platform.base_domain),
        data_root=naming.data_root(server),
        environment=environment,
        images=platform.images,
        endpoints=platform.endpoints,
        dev_environment=getattr(server, "dev_environment", False) and role != "space",
        biota=getattr(server, "biota", False),
        tls=tls,
        acme_email=platform.acme_email,
        aws_credentials=placement.kind == "onPrem",
        has_data_lake=role == "hub" or (role == "lab" and getattr(server, "hub", None) is not None),
        has_backups=placement.kind != "local",
    )


def containers_for(platform: PlatformConfig, server: Server) -> list[ContainerSpec]:
    """The container set of any server of the platform."""
    ctx = server_context(platform, server)
    return space_containers(ctx) if ctx.role == "space" else lab_containers(ctx)
